// Probing an untrusted upload in a separate, confined process: the controller
// holds the content signing key, so libvlc never parses an upload inside it.
// The helper (microscape-probe) gets the file on its standard input, an empty
// environment, "/" as its directory and no other descriptor; it confines itself
// further (content-packager/src/probe_main.cpp). A helper that outlives the
// timeout is killed with its process group. Functions here are thread-safe;
// each call runs its own process.
#pragma once

#include <filesystem>
#include <string>

#include "microscape/core/result.hpp"
#include "microscape/pack/probe.hpp"

namespace microscape::controller {

struct ProbeOptions {
    std::filesystem::path helper;  // the microscape-probe program
    int timeoutMs = 20000;         // then the helper is killed
};

struct ProbeRun {
    double seconds = 0;   // wall time of the helper
    std::string sandbox;  // the helper's "sandbox" report (JSON), for the log
    std::string detail;   // why it failed, with paths: for the log, never for clients
    std::string refusal;  // with BadMedia: the refusal code (unknown_format, truncated, no_picture, ...)
};

// The microscape-probe beside the running program (/proc/self/exe).
std::filesystem::path defaultProbeHelper();

// Runs the helper on the file at path. Errors: BadMedia (not usable media; the
// message names no path), Internal (the helper crashed, timed out or gave no
// usable answer), Io (the file or the helper could not be opened or started).
Result<pack::MediaInfo> probeInHelper(const std::filesystem::path& file, const ProbeOptions& options,
                                      ProbeRun* run = nullptr);

}  // namespace microscape::controller
