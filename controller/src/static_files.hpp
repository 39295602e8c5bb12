// Serves the web console (controller/web, installed as /usr/share/microscape/web)
// and Debian's packaged browser libraries (/usr/share/javascript, under /vendor/)
// over GET/HEAD. Read-only after construction: one instance is shared by all HTTP
// worker threads.
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>

#include <filesystem>
#include <optional>
#include <string>

namespace microscape::controller {

struct StaticFilesOptions {
    // Console files. Empty: the first of <exe dir>/../share/microscape/web, the
    // source tree's controller/web (a build-tree binary), /usr/share/microscape/web.
    std::filesystem::path webRoot;
    // Debian's libjs-* packages (libjs-bootstrap5, libjs-chart.js), served under /vendor/.
    std::filesystem::path vendorRoot = "/usr/share/javascript";
};

class StaticFiles {
  public:
    explicit StaticFiles(StaticFilesOptions options);

    // The console directory that will be served, or empty when none was found.
    const std::filesystem::path& webRoot() const { return webRoot_; }
    const std::filesystem::path& vendorRoot() const { return vendorRoot_; }

    // The web root that an empty StaticFilesOptions::webRoot resolves to (may be empty).
    static std::filesystem::path defaultWebRoot();

    // A handler for one request (GET or HEAD of a path that is not an API route).
    Poco::Net::HTTPRequestHandler* newHandler() const;

    // Maps a URL path ("/media.html", "/vendor/chart.js/chart.umd.js") to a file,
    // or nullopt when it is outside both roots, has "..", NUL or backslashes, or is
    // not a regular file. "/" is index.html. Pure apart from stat().
    std::optional<std::filesystem::path> resolve(const std::string& urlPath) const;

    // Content-Type for a file name by its extension (UTF-8 for text).
    static std::string contentType(const std::filesystem::path& file);

  private:
    std::filesystem::path webRoot_;
    std::filesystem::path vendorRoot_;
};

}  // namespace microscape::controller
