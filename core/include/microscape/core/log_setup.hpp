// The logging of both daemons (docs/logging.md): one Poco channel on stderr
// whose format follows where stderr goes. Under systemd (stderr is the journal
// stream named in $JOURNAL_STREAM) each line starts with its syslog priority,
// "<3>controller.api: ...", and carries no time (the journal stamps it); on a
// terminal or in a file, lines start with the UTC time and the level name.
// For the programs' main() only: core itself never logs. configure() before
// the threads start; the channel may then be used from any thread.
#pragma once

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/PatternFormatter.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace microscape::logsetup {

enum class Format {
    Auto,     // journal if stderr is the journal's stream, else text
    Journal,  // "<N>source: text" per line
    Text,     // "2026-04-15T08:00:00.000Z warning source: text"
};

inline std::optional<Format> parseFormat(std::string_view s) {
    if (s == "auto") return Format::Auto;
    if (s == "journal") return Format::Journal;
    if (s == "text") return Format::Text;
    return std::nullopt;
}

// True when stderr is the stream systemd connected to the journal: the
// device:inode in $JOURNAL_STREAM is that of file descriptor 2 (systemd.exec(5)).
inline bool stderrIsJournal() {
    const char* js = std::getenv("JOURNAL_STREAM");
    if (!js) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
}

// syslog(3) priority of a Poco priority: fatal and critical are "crit" (never
// "emerg", which the journal would broadcast to every terminal).
inline int syslogPriority(Poco::Message::Priority p) {
    switch (p) {
        case Poco::Message::PRIO_FATAL:
        case Poco::Message::PRIO_CRITICAL:
            return 2;
        case Poco::Message::PRIO_ERROR:
            return 3;
        case Poco::Message::PRIO_WARNING:
            return 4;
        case Poco::Message::PRIO_NOTICE:
            return 5;
        case Poco::Message::PRIO_INFORMATION:
            return 6;
        default:
            return 7;  // debug, trace
    }
}

// "<N>source: text\n" on stderr, every line of a multi-line text with its own
// prefix (the journal reads the priority per line). One write(2) per message.
class JournalChannel : public Poco::Channel {
  public:
    void log(const Poco::Message& msg) override {
        const std::string prefix =
            "<" + std::to_string(syslogPriority(msg.getPriority())) + ">" + msg.getSource() + ": ";
        std::string out;
        std::string_view text = msg.getText();
        for (;;) {
            const auto nl = text.find('\n');
            out += prefix;
            out += text.substr(0, nl);
            out += '\n';
            if (nl == std::string_view::npos) break;
            text.remove_prefix(nl + 1);
        }
        std::lock_guard lock(mutex_);
        std::string_view rest = out;
        while (!rest.empty()) {
            const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
            if (n <= 0) break;  // nowhere to report it
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
    }

  private:
    std::mutex mutex_;  // one message at a time on fd 2
};

// Puts one channel on every logger (those made before too) and sets their level
// (a Poco level name: none, fatal, critical, error, warning, notice, information,
// debug, trace). Returns the format chosen.
inline Format configure(const std::string& level, Format format) {
    if (format == Format::Auto) format = stderrIsJournal() ? Format::Journal : Format::Text;
    Poco::AutoPtr<Poco::Channel> channel;
    if (format == Format::Journal) {
        channel = new JournalChannel;
    } else {
        Poco::AutoPtr<Poco::PatternFormatter> fmt(new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t"));
        Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel);  // std::clog: stderr
        channel = new Poco::FormattingChannel(fmt, console);
    }
    // The root logger first: loggers made later copy its channel and level,
    // and Logger::setChannel("") below reaches only loggers that exist.
    Poco::Logger::root().setChannel(channel);
    Poco::Logger::setChannel("", channel);
    Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));
    return format;
}

}  // namespace microscape::logsetup
