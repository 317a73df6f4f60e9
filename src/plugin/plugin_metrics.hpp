// The plugins' counters for /metrics (spec/plugins.md, "Metrics"), process-wide: they
// outlive the hosts that a reload replaces, and every loop adds to them.
#pragma once
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace haineko::plugin {

class PluginMetrics {
public:
    static PluginMetrics& get();

    void result(const std::string& plugin, const char* hook, const char* result);
    void error(const std::string& plugin, const char* hook);
    void seconds(const std::string& plugin, double s);
    // haineko.metrics.incr: name is [a-z][a-z0-9_]*; labels as Prometheus writes them
    // ("a=\"1\",b=\"2\"", sorted), "" for none.
    void custom(const std::string& name, const std::string& labels, double by);

    // The Prometheus text of them all (empty families are written with their HELP too).
    std::string render() const;

private:
    mutable std::mutex mutex_;
    using ResultKey = std::tuple<std::string, std::string, std::string>;
    using ResultView = std::tuple<std::string_view, std::string_view, std::string_view>;
    // Transparent: a hook call finds its series without making strings. Spelled out
    // because clang's libstdc++ tuple has no < between tuples of different types.
    struct ResultLess {
        using is_transparent = void;
        static ResultView view(const ResultKey& k) { return {std::get<0>(k), std::get<1>(k), std::get<2>(k)}; }
        static const ResultView& view(const ResultView& k) { return k; }
        template <class A, class B>
        bool operator()(const A& a, const B& b) const { return view(a) < view(b); }
    };
    std::map<ResultKey, double, ResultLess> results_;
    std::map<std::pair<std::string, std::string>, double> errors_;
    struct Histogram {
        std::vector<double> counts;  // per bucket, not cumulative
        double sum = 0;
        double count = 0;
    };
    std::map<std::string, Histogram, std::less<>> seconds_;
    std::map<std::string, std::map<std::string, double>> custom_;
};

}  // namespace haineko::plugin
