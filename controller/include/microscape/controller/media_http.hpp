// One immutable, content-addressed media file over HTTP (GET /media/{sha256}):
// Cache-Control immutable, a strong ETag ("<sha256>") with If-None-Match, one
// Range (RFC 9110), HEAD, the body streamed from an open file. Shared by the
// controller's route and the fan-out benchmark's origin. Stateless; any thread.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <cstdint>
#include <string>

namespace microscape::controller {

struct MediaHttpAnswer {
    int status = 0;               // 200, 206, 304, or 416 (then nothing was sent)
    std::uint64_t bodyBytes = 0;  // body bytes written (0 for HEAD and 304)
};

// Answers req with the sizeBytes bytes of file descriptor fd (read with pread;
// the caller owns fd). For 416 only the Content-Range header is set and nothing
// is sent: the caller sends the error body.
MediaHttpAnswer sendMediaFile(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, int fd,
                              std::uint64_t sizeBytes, const std::string& sha256);

}  // namespace microscape::controller
