// The command line of the benchmarks: named options (--NAME VALUE) and
// positional values, each with a default and a line of help; --help/-h prints
// them, anything unknown or malformed is refused with exit status 64 (the
// table of docs/exit-codes.md). Single-threaded use in main().
#pragma once

#include <charconv>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "microscape/core/exit_codes.hpp"

namespace microscape::bench {

class BenchArgs {
  public:
    BenchArgs(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}

    // --name VALUE, a whole number in [min, max].
    BenchArgs& option(std::string name, std::string help, std::int64_t& value, std::int64_t min = 0,
                      std::int64_t max = INT64_MAX) {
        specs_.push_back({std::move(name), std::move(help), &value, nullptr, min, max, false});
        return *this;
    }
    // --name VALUE, any text; with choices, one of them.
    BenchArgs& option(std::string name, std::string help, std::string& value, std::vector<std::string> choices = {}) {
        specs_.push_back({std::move(name), std::move(help), nullptr, &value, 0, 0, false, std::move(choices)});
        return *this;
    }
    // --name alone: sets value to true.
    BenchArgs& flag(std::string name, std::string help, bool& value) {
        specs_.push_back({std::move(name), std::move(help), nullptr, nullptr, 0, 0, false, {}, &value});
        return *this;
    }
    // A positional value (in the order declared), optional.
    BenchArgs& positional(std::string name, std::string help, std::int64_t& value, std::int64_t min = 0,
                          std::int64_t max = INT64_MAX) {
        specs_.push_back({std::move(name), std::move(help), &value, nullptr, min, max, true});
        return *this;
    }
    BenchArgs& positional(std::string name, std::string help, std::string& value,
                          std::vector<std::string> choices = {}) {
        specs_.push_back({std::move(name), std::move(help), nullptr, &value, 0, 0, true, std::move(choices)});
        return *this;
    }

    // Returns -1 to go on, else the exit status to return from main() (0 after --help).
    int parse(int argc, char** argv) {
        std::size_t nextPositional = 0;
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            if (arg == "--help" || arg == "-h") {
                std::cout << usage();
                return exitcode::kOk;
            }
            Spec* spec = nullptr;
            std::string value;
            if (arg.rfind("--", 0) == 0) {
                for (auto& s : specs_)
                    if (!s.positional && "--" + s.name == arg) spec = &s;
                if (!spec) return error("unknown option " + arg);
                if (spec->flag) {
                    *spec->flag = true;
                    continue;
                }
                if (i + 1 >= argc) return error(arg + " needs a value");
                value = argv[++i];
            } else if (arg.size() > 1 && arg[0] == '-') {
                return error("unknown option " + arg);
            } else {
                std::size_t seen = 0;
                for (auto& s : specs_)
                    if (s.positional && seen++ == nextPositional) spec = &s;
                if (!spec) return error("unexpected argument '" + arg + "'");
                ++nextPositional;
                value = arg;
            }
            if (int rc = set(*spec, value); rc >= 0) return rc;
        }
        return -1;
    }

    std::string usage() const {
        std::string u = "usage: " + program_ + " [--help]";
        for (const auto& s : specs_)
            u += s.positional ? " [" + s.name + "]" : s.flag ? " [--" + s.name + "]" : " [--" + s.name + " VALUE]";
        u += "\n\n" + summary_ + "\n\n";
        for (const auto& s : specs_) {
            std::string lead = s.positional ? "  " + s.name : s.flag ? "  --" + s.name : "  --" + s.name + " VALUE";
            u += lead + std::string(lead.size() < 24 ? 24 - lead.size() : 1, ' ') + s.help +
                 (s.flag ? "\n" : " (default " + (s.number ? std::to_string(*s.number) : *s.text) + ")\n");
        }
        return u + "\n" + exitcode::kHelpText;
    }

  private:
    struct Spec {
        std::string name, help;
        std::int64_t* number;
        std::string* text;
        std::int64_t min, max;
        bool positional;
        std::vector<std::string> choices = {};
        bool* flag = nullptr;  // a flag takes no value
    };

    int set(Spec& s, const std::string& value) {
        const std::string what = s.positional ? s.name : "--" + s.name;
        if (s.number) {
            std::int64_t v = 0;
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec != std::errc() || p != value.data() + value.size() || v < s.min || v > s.max)
                return error(what + " must be a whole number in " + std::to_string(s.min) + ".." +
                             std::to_string(s.max) + " (got '" + value + "')");
            *s.number = v;
            return -1;
        }
        if (!s.choices.empty()) {
            bool ok = false;
            for (const auto& c : s.choices) ok = ok || c == value;
            if (!ok) {
                std::string list;
                for (const auto& c : s.choices) list += (list.empty() ? "" : "|") + c;
                return error(what + " must be one of " + list + " (got '" + value + "')");
            }
        }
        *s.text = value;
        return -1;
    }

    int error(const std::string& message) const {
        std::cerr << program_ << ": " << message << " (see " << program_ << " --help)\n";
        return exitcode::kUsage;
    }

    std::string program_, summary_;
    std::vector<Spec> specs_;
};

}  // namespace microscape::bench
