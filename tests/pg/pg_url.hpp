// Where the PostgreSQL of the ctest fixture "pg" (tests/tools/pg_fixture.py) listens.
#pragma once
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

// HAINEKO_TEST_PG_URL, or the first line of the file HAINEKO_TEST_PG_URL_FILE names
// (where the fixture writes it).
inline std::string test_url() {
    if (const char* url = std::getenv("HAINEKO_TEST_PG_URL"); url && *url) return url;
    if (const char* file = std::getenv("HAINEKO_TEST_PG_URL_FILE"); file && *file) {
        std::ifstream in(file);
        std::string url;
        if (std::getline(in, url) && !url.empty()) return url;
        throw std::runtime_error(std::string("no PostgreSQL URL in ") + file + ": did the fixture pg start?");
    }
    throw std::runtime_error("neither HAINEKO_TEST_PG_URL nor HAINEKO_TEST_PG_URL_FILE is set: run through ctest");
}

