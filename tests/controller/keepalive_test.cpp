// A request body that its handler never reads must not leak into the next
// request on the same keep-alive connection.
#include <catch2/catch.hpp>

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include "test_support.hpp"

using namespace microscape::testing;

namespace {

std::string readResponses(Poco::Net::StreamSocket& sock, int wantStatusLines) {
    std::string data;
    char buf[4096];
    sock.setReceiveTimeout(Poco::Timespan(10, 0));
    auto count = [&] {
        int n = 0;
        for (std::size_t at = data.find("HTTP/1.1 "); at != std::string::npos; at = data.find("HTTP/1.1 ", at + 1)) ++n;
        return n;
    };
    while (count() < wantStatusLines) {
        int n = sock.receiveBytes(buf, sizeof buf);
        if (n <= 0) break;
        data.append(buf, static_cast<std::size_t>(n));
    }
    return data;
}

}  // namespace

TEST_CASE("an unread request body does not corrupt the next keep-alive request", "[controller]") {
    TestServer server([](auto& c) { c.tls = false; });  // raw HTTP on the socket
    Poco::Net::StreamSocket sock(Poco::Net::SocketAddress("127.0.0.1", server.port()));
    std::string body = R"({"ignored": "这段内容没有被读取"})";
    std::string first = "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;
    std::string second = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    sock.sendBytes(first.data(), static_cast<int>(first.size()));
    std::string one = readResponses(sock, 1);
    REQUIRE(one.rfind("HTTP/1.1 200", 0) == 0);
    sock.sendBytes(second.data(), static_cast<int>(second.size()));
    std::string two = readResponses(sock, 1);
    INFO(two);
    CHECK(two.rfind("HTTP/1.1 200", 0) == 0);
}
