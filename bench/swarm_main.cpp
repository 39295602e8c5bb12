// microscape-swarm: N simulated players in one process for load tests against a
// running controller. Each gets a one-time token from the API (admin API token),
// enrols through POST /api/v1/enroll with its own Ed25519 and CURVE keys (the
// player's own enrolment code), then runs a real sync agent with its own DEALER.
// Reports per-player time from start to holding the verified bundle.
// Usage: microscape-swarm --controller-http http://HOST:PORT --api-token TOKEN
//                         [--players 20] [--data-root DIR (kept)] [--timeout-s 120]
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <cstring>
#include <iostream>
#include <sstream>

#include "bench_args.hpp"
#include "microscape/player/enroll.hpp"
#include "swarm_support.hpp"

using namespace swarm;

namespace {

std::optional<std::string> newToken(const Poco::URI& uri, const std::string& apiToken, int i) {
    try {
        Poco::Net::HTTPClientSession s(uri.getHost(), uri.getPort());
        Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_POST, "/api/v1/enrollment-tokens",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
        const std::string body = R"({"name":"swarm-)" + std::to_string(i) + R"(","ttlSeconds":3600})";
        req.setContentType("application/json");
        req.set("Authorization", "Bearer " + apiToken);
        req.setContentLength(static_cast<std::streamsize>(body.size()));
        s.sendRequest(req) << body;
        Poco::Net::HTTPResponse resp;
        std::ostringstream out;
        Poco::StreamCopier::copyStream(s.receiveResponse(resp), out);
        if (resp.getStatus() != Poco::Net::HTTPResponse::HTTP_CREATED) {
            std::cerr << "token request failed: " << out.str() << "\n";
            return std::nullopt;
        }
        auto v = json::parse(out.str());
        if (!v || !v->find("token")) return std::nullopt;
        return v->find("token")->asString();
    } catch (const Poco::Exception& e) {
        std::cerr << "token request failed: " << e.displayText() << "\n";
        return std::nullopt;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string http, apiToken, root;
    std::int64_t players = 20, timeout = 120;
    microscape::bench::BenchArgs args("microscape-swarm",
                                      "Enrols simulated players with a running controller "
                                      "and reports their sync (--controller-http and "
                                      "--api-token are required).");
    args.option("controller-http", "the controller's http:// URL", http)
        .option("api-token", "an admin API token", apiToken)
        .option("players", "simulated players", players, 1, 100000)
        .option("data-root", "directory for their data (default: a temporary one)", root)
        .option("timeout-s", "seconds to wait for them", timeout, 1, 86400);
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    if (http.empty() || apiToken.empty()) {
        std::cerr << "microscape-swarm: --controller-http and --api-token are required (see "
                     "microscape-swarm --help)\n";
        return microscape::exitcode::kUsage;
    }
    const int n = static_cast<int>(players), timeoutS = static_cast<int>(timeout);
    Poco::Logger::root().setLevel("error");
    std::optional<TempDir> tmp;
    if (root.empty()) {
        tmp.emplace("swarm");
        root = tmp->path.string();
    }
    const Poco::URI uri(http);
    std::vector<std::unique_ptr<player::SyncAgent>> agents;
    std::vector<std::string> ids;
    const double t0 = nowS();
    for (int i = 0; i < n; ++i) {
        auto token = newToken(uri, apiToken, i);
        if (!token) return 1;
        player::EnrollRequest r;
        r.controllerHttp = http;
        r.token = *token;
        r.dataDir = fs::path(root) / ("sim" + std::to_string(i));
        r.name = "swarm " + std::to_string(i);
        r.software = "microscape-swarm";
        auto c = player::enroll(r);
        if (!c) {
            std::cerr << "enrolment " << i << " failed: " << c.error().str() << "\n";
            return 1;
        }
        player::AgentOptions o;
        o.software = "microscape-swarm";
        agents.push_back(std::make_unique<player::SyncAgent>(*c, o, Poco::Logger::get("swarm")));
        ids.push_back(c->playerId);
    }
    const double enrolled = nowS() - t0;
    const double t1 = nowS();
    for (auto& a : agents)
        if (!a->start()) return 1;
    std::vector<double> done(agents.size(), 0);
    std::size_t remaining = agents.size();
    while (remaining > 0 && nowS() - t1 < timeoutS) {
        for (std::size_t i = 0; i < agents.size(); ++i) {
            if (done[i] > 0) continue;
            if (agents[i]->activeBundle()) {
                done[i] = nowS() - t1;
                --remaining;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::printf("swarm: %d players enrolled in %.2f s; %zu hold a verified bundle\n", n, enrolled,
                agents.size() - remaining);
    for (std::size_t i = 0; i < agents.size(); ++i) std::printf("  %s %.3f s\n", ids[i].c_str(), done[i]);
    std::vector<double> ok;
    for (double d : done)
        if (d > 0) ok.push_back(d);
    std::printf("  sync time p50 %.3f s, p99 %.3f s, max %.3f s\n", percentile(ok, 0.5), percentile(ok, 0.99),
                percentile(ok, 1.0));
    for (auto& a : agents) a->stop();
    return remaining == 0 ? 0 : 3;
}
