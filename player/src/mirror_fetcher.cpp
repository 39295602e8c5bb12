#include "mirror_fetcher.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/URI.h>

#include <algorithm>
#include <memory>

namespace microscape::player {

namespace {

// TLS 1.2+, the peer's chain checked against the system's CA store and its
// name against the URL's host.
Poco::Net::Context::Ptr systemCaContext() {
    static const Poco::Net::Context::Ptr ctx = [] {
        Poco::Net::Context::Params p;
        p.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
        p.loadDefaultCAs = true;
        p.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES";
        Poco::Net::Context::Ptr c = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
        c->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
        return c;
    }();
    return ctx;
}

// "bytes first-last/total" of a 206 answer.
bool parseContentRange(const std::string& v, std::uint64_t& first, std::uint64_t& last, std::uint64_t& total) {
    unsigned long long a = 0, b = 0, t = 0;
    char tail = 0;
    if (std::sscanf(v.c_str(), "bytes %llu-%llu/%llu%c", &a, &b, &t, &tail) != 3) return false;
    first = a;
    last = b;
    total = t;
    return first <= last && last < total;
}

}  // namespace

MirrorFetcher::MirrorFetcher(MirrorOptions options, std::function<void()> wake)
    : options_(std::move(options)), wake_(std::move(wake)) {}

MirrorFetcher::~MirrorFetcher() {
    stop();
}

void MirrorFetcher::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        if (running_) cancelled_ = job_.id;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);  // ready for a later submit()
    stopping_ = false;
    hasJob_ = running_ = false;
    events_.clear();
    queuedBytes_ = 0;
}

void MirrorFetcher::submit(Job job) {
    {
        std::lock_guard lock(mutex_);
        job_ = std::move(job);
        hasJob_ = true;
        running_ = true;
        if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { run(); });
    }
    cv_.notify_all();
}

void MirrorFetcher::cancel() {
    {
        std::lock_guard lock(mutex_);
        if (!running_) return;
        cancelled_ = job_.id;
        running_ = false;
        hasJob_ = false;
        events_.clear();
        queuedBytes_ = 0;
    }
    cv_.notify_all();
}

bool MirrorFetcher::busy() const {
    std::lock_guard lock(mutex_);
    return running_;
}

std::vector<MirrorFetcher::Event> MirrorFetcher::take() {
    std::vector<Event> out;
    {
        std::lock_guard lock(mutex_);
        out.assign(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
        events_.clear();
        queuedBytes_ = 0;
        for (const auto& e : out)
            if (e.kind == Event::Kind::Ended && e.jobId == job_.id) running_ = false;
    }
    cv_.notify_all();
    return out;
}

bool MirrorFetcher::post(Event e) {
    {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] {
            return stopping_ || cancelled_ == e.jobId || queuedBytes_ + e.data.size() <= kMaxQueuedBytes ||
                   events_.empty();
        });
        if (stopping_ || cancelled_ == e.jobId) return false;
        queuedBytes_ += e.data.size();
        events_.push_back(std::move(e));
    }
    if (wake_) wake_();
    return true;
}

void MirrorFetcher::run() {
    while (true) {
        Job job;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [&] { return stopping_ || hasJob_; });
            if (stopping_) return;
            job = job_;
            hasJob_ = false;
        }
        runJob(job);
    }
}

void MirrorFetcher::runJob(const Job& job) {
    std::uint64_t pos = job.offsetBytes;
    for (const auto& base : job.mirrors) {
        if (pos >= job.sizeBytes) break;
        std::string error;
        const bool ok = fetchFrom(job, base, pos, error);
        {
            std::lock_guard lock(mutex_);
            if (stopping_ || cancelled_ == job.id) return;
        }
        if (ok) break;
        Event f;
        f.kind = Event::Kind::Failed;
        f.jobId = job.id;
        f.sha256 = job.sha256;
        f.mirror = base;
        f.offsetBytes = pos;
        f.error = error;
        if (!post(std::move(f))) return;
    }
    Event end;
    end.kind = Event::Kind::Ended;
    end.jobId = job.id;
    end.sha256 = job.sha256;
    end.offsetBytes = pos;
    end.ok = pos >= job.sizeBytes;
    post(std::move(end));
}

bool MirrorFetcher::fetchFrom(const Job& job, const std::string& base, std::uint64_t& pos, std::string& error) {
    std::string url = base + "/media/" + job.sha256;
    try {
        for (int hop = 0; hop <= options_.maxRedirects; ++hop) {
            Poco::URI uri(url);
            const std::string scheme = uri.getScheme();
            if (scheme != "http" && scheme != "https") {
                error = "redirected to a " + scheme + " URL";
                return false;
            }
            std::unique_ptr<Poco::Net::HTTPClientSession> session;
            if (scheme == "https")
                session =
                    std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), systemCaContext());
            else
                session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
            const Poco::Timespan idle(options_.idleTimeoutMs * 1000);
            session->setTimeout(Poco::Timespan(options_.connectTimeoutMs * 1000), idle, idle);
            session->setKeepAlive(false);
            Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathEtc(),
                                       Poco::Net::HTTPMessage::HTTP_1_1);
            req.set("User-Agent", options_.userAgent);
            if (pos > 0) req.set("Range", "bytes=" + std::to_string(pos) + "-");
            session->sendRequest(req);
            Poco::Net::HTTPResponse resp;
            std::istream& in = session->receiveResponse(resp);
            const int status = static_cast<int>(resp.getStatus());
            if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
                if (!resp.has("Location")) {
                    error = "HTTP " + std::to_string(status) + " without a Location";
                    return false;
                }
                Poco::URI next(uri);
                next.resolve(resp.get("Location"));
                url = next.toString();
                continue;
            }
            // What the answer must hold: [start, size) of the file.
            std::uint64_t start = 0;
            if (status == 206) {
                std::uint64_t first = 0, last = 0, total = 0;
                if (!parseContentRange(resp.get("Content-Range", ""), first, last, total)) {
                    error = "HTTP 206 with a bad Content-Range";
                    return false;
                }
                if (total != job.sizeBytes || first != pos || last + 1 != job.sizeBytes) {
                    error = "HTTP 206 for " + resp.get("Content-Range") + ", asked for bytes " + std::to_string(pos) +
                            "- of " + std::to_string(job.sizeBytes);
                    return false;
                }
                start = first;
            } else if (status != 200) {
                error = "HTTP " + std::to_string(status);
                return false;
            }
            const std::uint64_t expect = job.sizeBytes - start;
            if (resp.hasContentLength() && static_cast<std::uint64_t>(resp.getContentLength64()) != expect) {
                error = "Content-Length " + std::to_string(resp.getContentLength64()) + ", expected " +
                        std::to_string(expect);
                return false;
            }
            // A 200 from offset 0: the bytes already on disk are read and dropped.
            std::uint64_t skip = pos - start;
            std::uint64_t at = start;
            std::string buf(kReadBytes, '\0');
            while (true) {
                {
                    std::lock_guard lock(mutex_);
                    if (stopping_ || cancelled_ == job.id) return false;
                }
                // One byte more than may come, to notice an answer that is too long.
                const std::uint64_t room = job.sizeBytes - at + 1;
                in.read(buf.data(), static_cast<std::streamsize>(std::min<std::uint64_t>(buf.size(), room)));
                const auto n = static_cast<std::uint64_t>(in.gcount());
                if (n == 0) break;
                if (at + n > job.sizeBytes) {
                    error = "the answer is longer than the manifest's " + std::to_string(job.sizeBytes) + " bytes";
                    return false;
                }
                std::uint64_t from = 0;
                if (skip > 0) {
                    from = std::min(skip, n);
                    skip -= from;
                }
                if (from < n) {
                    Event d;
                    d.kind = Event::Kind::Data;
                    d.jobId = job.id;
                    d.sha256 = job.sha256;
                    d.mirror = base;
                    d.offsetBytes = pos;
                    d.data.assign(buf.data() + from, static_cast<std::size_t>(n - from));
                    if (!post(std::move(d))) return false;
                    pos += n - from;
                }
                at += n;
                if (in.eof() || in.fail()) break;
            }
            if (pos < job.sizeBytes) {
                error =
                    "the answer ended after " + std::to_string(pos) + " of " + std::to_string(job.sizeBytes) + " bytes";
                return false;
            }
            return true;
        }
        error = "more than " + std::to_string(options_.maxRedirects) + " redirects";
        return false;
    } catch (const Poco::Exception& e) {
        error = e.displayText();
    } catch (const std::exception& e) {
        error = e.what();
    }
    return false;
}

}  // namespace microscape::player
