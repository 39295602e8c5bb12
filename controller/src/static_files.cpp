#include "static_files.hpp"

#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <system_error>

#ifndef MICROSCAPE_WEB_INSTALL_DIR
#define MICROSCAPE_WEB_INSTALL_DIR "/usr/share/microscape/web"
#endif

namespace microscape::controller {

namespace fs = std::filesystem;

namespace {

constexpr const char* kVendorPrefix = "/vendor/";

// Pages may load scripts, styles, images and media from this origin only; no
// inline script, no framing. Inline style is allowed for Chart.js canvases.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

bool isDir(const fs::path& p) {
    std::error_code ec;
    return !p.empty() && fs::is_directory(p, ec);
}

bool isFile(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);  // follows symlinks (Debian's libjs links)
}

fs::path executableDir() {
    std::array<char, 4096> buf{};
    const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
    if (n <= 0) return {};
    return fs::path(std::string(buf.data(), static_cast<std::size_t>(n))).parent_path();
}

// Splits a decoded URL path into segments; false on anything that could leave the
// root or confuse a file system: "..", ".", backslashes, NUL, control characters.
bool safeSegments(const std::string& path, std::vector<std::string>& out) {
    if (path.empty() || path[0] != '/') return false;
    std::string seg;
    auto flush = [&]() -> bool {
        if (seg == "." || seg == "..") return false;
        if (!seg.empty()) out.push_back(seg);
        seg.clear();
        return true;
    };
    for (char ch : path) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f || ch == '\\') return false;
        if (ch == '/') {
            if (!flush()) return false;
        } else {
            seg += ch;
        }
    }
    return flush();
}

std::string etagOf(const fs::path& file, std::uintmax_t size) {
    std::error_code ec;
    const auto mtime = fs::last_write_time(file, ec).time_since_epoch().count();
    char buf[64];
    std::snprintf(buf, sizeof buf, "\"%jx-%llx\"", size, static_cast<unsigned long long>(mtime));
    return buf;
}

class FileHandler : public Poco::Net::HTTPRequestHandler {
  public:
    explicit FileHandler(const StaticFiles& files) : files_(files) {}

    void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
        resp.set("X-Content-Type-Options", "nosniff");
        resp.set("Referrer-Policy", "no-referrer");
        if (req.secure()) resp.set("Strict-Transport-Security", "max-age=31536000");  // as the API (kHsts)
        const bool head = req.getMethod() == "HEAD";
        if (!head && req.getMethod() != "GET") {
            resp.set("Allow", "GET, HEAD");
            sendText(resp, Poco::Net::HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
            return;
        }
        std::string path;
        try {
            path = Poco::URI(req.getURI()).getPath();
        } catch (const Poco::Exception&) {
            sendText(resp, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "bad request\n");
            return;
        }
        if (path == "/index.html") {  // one address per page
            resp.redirect("/", Poco::Net::HTTPResponse::HTTP_MOVED_PERMANENTLY);
            return;
        }
        auto file = files_.resolve(path);
        if (!file) {
            if (files_.webRoot().empty())
                sendText(resp, Poco::Net::HTTPResponse::HTTP_NOT_FOUND,
                         "The web console's files were not found; set http.webRoot.\n");
            else
                sendText(resp, Poco::Net::HTTPResponse::HTTP_NOT_FOUND, "not found\n");
            return;
        }
        std::error_code ec;
        const auto size = fs::file_size(*file, ec);
        if (ec) {
            sendText(resp, Poco::Net::HTTPResponse::HTTP_NOT_FOUND, "not found\n");
            return;
        }
        const std::string type = StaticFiles::contentType(*file);
        const bool vendor = path.rfind(kVendorPrefix, 0) == 0;
        const std::string etag = etagOf(*file, size);
        resp.set("ETag", etag);
        // Console files revalidate on every load (cheap with the ETag) so an upgrade
        // shows at once; packaged libraries change only with the package.
        resp.set("Cache-Control", vendor ? "public, max-age=86400" : "no-cache");
        if (type.rfind("text/html", 0) == 0) {
            resp.set("Content-Security-Policy", kContentSecurityPolicy);
            resp.set("X-Frame-Options", "DENY");
        }
        if (req.get("If-None-Match", "") == etag) {
            resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_MODIFIED);
            resp.setContentLength(0);
            resp.send();
            return;
        }
        std::ifstream in(*file, std::ios::binary);
        if (!in) {
            sendText(resp, Poco::Net::HTTPResponse::HTTP_NOT_FOUND, "not found\n");
            return;
        }
        resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
        resp.setContentType(type);
        resp.setContentLength64(static_cast<Poco::Int64>(size));
        auto& out = resp.send();
        if (!head) Poco::StreamCopier::copyStream(in, out, 65536);
    }

  private:
    static void sendText(Poco::Net::HTTPServerResponse& resp, Poco::Net::HTTPResponse::HTTPStatus status,
                         const std::string& text) {
        resp.setStatusAndReason(status);
        resp.setContentType("text/plain; charset=utf-8");
        resp.setContentLength(static_cast<std::streamsize>(text.size()));
        resp.send() << text;
    }

    const StaticFiles& files_;
};

}  // namespace

StaticFiles::StaticFiles(StaticFilesOptions options)
    : webRoot_(options.webRoot.empty() ? defaultWebRoot() : std::move(options.webRoot)),
      vendorRoot_(std::move(options.vendorRoot)) {}

fs::path StaticFiles::defaultWebRoot() {
    const fs::path exeDir = executableDir();
    if (!exeDir.empty()) {
        const fs::path besideBinary = exeDir.parent_path() / "share" / "microscape" / "web";
        if (isDir(besideBinary)) return besideBinary;
    }
#ifdef MICROSCAPE_SOURCE_WEB_DIR
    // A binary run from its build tree: the console of the source tree it was built from.
    const fs::path sourceTree = MICROSCAPE_SOURCE_WEB_DIR;
    if (isDir(sourceTree)) return sourceTree;
#endif
    const fs::path installed = MICROSCAPE_WEB_INSTALL_DIR;
    if (isDir(installed)) return installed;
    return {};
}

std::optional<fs::path> StaticFiles::resolve(const std::string& urlPath) const {
    std::vector<std::string> segs;
    if (!safeSegments(urlPath, segs)) return std::nullopt;
    fs::path base = webRoot_;
    std::size_t first = 0;
    if (!segs.empty() && segs[0] == "vendor") {
        base = vendorRoot_;
        first = 1;
        if (segs.size() == 1) return std::nullopt;
    }
    if (base.empty()) return std::nullopt;
    fs::path p = base;
    for (std::size_t i = first; i < segs.size(); ++i) p /= segs[i];
    if (first == 0) {
        if (segs.empty())
            p /= "index.html";
        else if (!isFile(p) && p.extension().empty())
            p += ".html";  // "/media" -> media.html
    }
    if (!isFile(p)) return std::nullopt;
    return p;
}

std::string StaticFiles::contentType(const fs::path& file) {
    static const std::map<std::string, std::string> kTypes = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".json", "application/json; charset=utf-8"},
        {".map", "application/json; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".ttf", "font/ttf"},
    };
    std::string ext = file.extension().string();
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = kTypes.find(ext);
    return it == kTypes.end() ? "application/octet-stream" : it->second;
}

Poco::Net::HTTPRequestHandler* StaticFiles::newHandler() const {
    return new FileHandler(*this);
}

}  // namespace microscape::controller
