#include "microscape/controller/media_http.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace microscape::controller {

namespace {

// Media are immutable: a hash names the same bytes forever.
constexpr const char* kImmutable = "public, max-age=31536000, immutable";

// Whether If-None-Match names etag (or is "*").
bool etagMatches(const std::string& header, const std::string& etag) {
    if (header.empty()) return false;
    std::size_t pos = 0;
    while (pos < header.size()) {
        auto comma = header.find(',', pos);
        std::string tag = header.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        tag.erase(0, tag.find_first_not_of(" \t"));
        tag.erase(tag.find_last_not_of(" \t") + 1);
        if (tag == "*" || tag == etag || tag == "W/" + etag) return true;
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return false;
}

enum class RangeKind { None, Satisfiable, Unsatisfiable };

// One "bytes=" range (RFC 9110 14.1.2); several ranges or a malformed header
// are answered with the whole file (as the RFC allows).
RangeKind parseRange(const std::string& h, std::uint64_t size, std::uint64_t& first, std::uint64_t& last) {
    if (h.rfind("bytes=", 0) != 0 || h.find(',') != std::string::npos) return RangeKind::None;
    const std::string spec = h.substr(6);
    const auto dash = spec.find('-');
    if (dash == std::string::npos) return RangeKind::None;
    const std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
    auto digits = [](const std::string& s) {
        return !s.empty() && s.size() <= 19 &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (a.empty()) {  // the last b bytes
        if (!digits(b)) return RangeKind::None;
        const std::uint64_t n = std::stoull(b);
        if (n == 0 || size == 0) return RangeKind::Unsatisfiable;
        first = n >= size ? 0 : size - n;
        last = size - 1;
        return RangeKind::Satisfiable;
    }
    if (!digits(a) || (!b.empty() && !digits(b))) return RangeKind::None;
    first = std::stoull(a);
    last = b.empty() ? size - 1 : std::stoull(b);
    if (!b.empty() && last < first) return RangeKind::None;
    if (first >= size) return RangeKind::Unsatisfiable;
    last = std::min<std::uint64_t>(last, size - 1);
    return RangeKind::Satisfiable;
}

}  // namespace

MediaHttpAnswer sendMediaFile(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, int fd,
                              std::uint64_t size, const std::string& sha) {
    MediaHttpAnswer answer;
    const std::string etag = "\"" + sha + "\"";
    resp.set("ETag", etag);
    resp.set("Cache-Control", kImmutable);
    resp.set("Accept-Ranges", "bytes");
    if (etagMatches(req.get("If-None-Match", ""), etag)) {
        resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_MODIFIED);
        resp.setContentLength(0);
        resp.send();
        answer.status = 304;
        return answer;
    }
    std::uint64_t first = 0, last = size == 0 ? 0 : size - 1;
    RangeKind range = RangeKind::None;
    const std::string ifRange = req.get("If-Range", "");
    if (req.has("Range") && (ifRange.empty() || ifRange == etag))
        range = parseRange(req.get("Range"), size, first, last);
    if (range == RangeKind::Unsatisfiable) {
        resp.set("Content-Range", "bytes */" + std::to_string(size));
        answer.status = 416;
        return answer;
    }
    resp.setContentType("application/octet-stream");
    if (range == RangeKind::Satisfiable) {
        resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_PARTIAL_CONTENT);
        resp.set("Content-Range",
                 "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size));
        answer.status = 206;
    } else {
        resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
        answer.status = 200;
    }
    const std::uint64_t length = size == 0 ? 0 : last - first + 1;
    resp.setContentLength64(static_cast<Poco::Int64>(length));
    auto& out = resp.send();
    if (req.getMethod() == "HEAD") return answer;
    // Streamed from the file, never held whole in memory.
    std::vector<char> buf(256 * 1024);
    std::uint64_t at = first, left = length;
    while (left > 0 && out) {
        const ssize_t n = ::pread(fd, buf.data(), std::min<std::uint64_t>(left, buf.size()), static_cast<off_t>(at));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.write(buf.data(), n);
        if (!out) break;
        answer.bodyBytes += static_cast<std::uint64_t>(n);
        at += static_cast<std::uint64_t>(n);
        left -= static_cast<std::uint64_t>(n);
    }
    // A short file or a broken connection: the client sees fewer bytes than
    // Content-Length says, and the connection closes.
    if (left > 0) resp.setKeepAlive(false);
    return answer;
}

}  // namespace microscape::controller
