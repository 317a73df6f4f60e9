#include "plugin/plugin_metrics.hpp"

#include <fmt/format.h>

namespace haineko::plugin {

namespace {

constexpr double kBuckets[] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30};
constexpr std::size_t kBucketCount = sizeof kBuckets / sizeof kBuckets[0];

// A label value as Prometheus escapes it.
std::string label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string number(double v) { return fmt::format("{}", v); }

}  // namespace

PluginMetrics& PluginMetrics::get() {
    static PluginMetrics metrics;
    return metrics;
}

void PluginMetrics::result(const std::string& plugin, const char* hook, const char* result) {
    const std::tuple<std::string_view, std::string_view, std::string_view> key{plugin, hook, result};
    std::lock_guard lock(mutex_);
    if (auto it = results_.find(key); it != results_.end()) ++it->second;
    else results_[{plugin, hook, result}] += 1;
}

void PluginMetrics::error(const std::string& plugin, const char* hook) {
    std::lock_guard lock(mutex_);
    errors_[{plugin, hook}] += 1;
}

void PluginMetrics::seconds(const std::string& plugin, double s) {
    std::lock_guard lock(mutex_);
    auto it = seconds_.find(std::string_view(plugin));
    if (it == seconds_.end()) it = seconds_.emplace(plugin, Histogram{}).first;
    Histogram& h = it->second;
    if (h.counts.empty()) h.counts.assign(kBucketCount, 0);
    std::size_t i = 0;
    while (i < kBucketCount && s > kBuckets[i]) ++i;
    if (i < kBucketCount) h.counts[i] += 1;
    h.sum += s;
    h.count += 1;
}

void PluginMetrics::custom(const std::string& name, const std::string& labels, double by) {
    std::lock_guard lock(mutex_);
    auto& series = custom_[name];
    // A plugin that labels by client address would grow this without end.
    if (series.size() >= 1000 && !series.count(labels)) return;
    series[labels] += by;
}

std::string PluginMetrics::render() const {
    std::lock_guard lock(mutex_);
    std::string out;
    out += "# HELP haineko_plugin_results_total Answers of plugin hooks.\n# TYPE haineko_plugin_results_total counter\n";
    for (const auto& [k, v] : results_)
        out += fmt::format("haineko_plugin_results_total{{plugin=\"{}\",hook=\"{}\",result=\"{}\"}} {}\n",
                           label(std::get<0>(k)), std::get<1>(k), std::get<2>(k), number(v));
    out += "# HELP haineko_plugin_errors_total Plugin hooks that failed.\n# TYPE haineko_plugin_errors_total counter\n";
    for (const auto& [k, v] : errors_)
        out += fmt::format("haineko_plugin_errors_total{{plugin=\"{}\",hook=\"{}\"}} {}\n", label(k.first), k.second,
                           number(v));
    out += "# HELP haineko_plugin_hook_seconds Time of one hook call, its waits included.\n"
           "# TYPE haineko_plugin_hook_seconds histogram\n";
    for (const auto& [plugin, h] : seconds_) {
        double cumulative = 0;
        for (std::size_t i = 0; i < kBucketCount; ++i) {
            cumulative += h.counts[i];
            out += fmt::format("haineko_plugin_hook_seconds_bucket{{plugin=\"{}\",le=\"{}\"}} {}\n", label(plugin),
                               number(kBuckets[i]), number(cumulative));
        }
        out += fmt::format("haineko_plugin_hook_seconds_bucket{{plugin=\"{}\",le=\"+Inf\"}} {}\n", label(plugin),
                           number(h.count));
        out += fmt::format("haineko_plugin_hook_seconds_sum{{plugin=\"{}\"}} {}\n", label(plugin), number(h.sum));
        out += fmt::format("haineko_plugin_hook_seconds_count{{plugin=\"{}\"}} {}\n", label(plugin), number(h.count));
    }
    for (const auto& [name, series] : custom_) {
        out += fmt::format("# HELP haineko_plugin_{0}_total A plugin's own counter.\n# TYPE haineko_plugin_{0}_total counter\n", name);
        for (const auto& [labels, v] : series)
            out += labels.empty() ? fmt::format("haineko_plugin_{}_total {}\n", name, number(v))
                                  : fmt::format("haineko_plugin_{}_total{{{}}} {}\n", name, labels, number(v));
    }
    return out;
}

}  // namespace haineko::plugin
