// sql::Conn over libpq, PostgreSQL's own client library (chosen over
// Poco::Data::PostgreSQL because the store needs what only libpq offers:
// LISTEN/NOTIFY between controller nodes, COPY for bulk ingest, SQLSTATE codes
// to tell a lost race from a refused write, and binary bytea parameters).
// Statements are prepared once per connection under generated names and kept
// by their text; parameters travel as text (bytea as binary), results as text.
//
// Rows stream: a statement is sent (PQsendQueryPrepared) in single-row mode and
// step() takes one row at a time from the socket, so a result of millions of
// rows never sits in memory whole. One statement streams per connection at a
// time: when anything else is run on the connection while a statement is
// still streaming (a caller running a second statement between its rows), the
// first one's remaining rows are read into memory first and it goes on from
// there. A statement reset or destroyed before its last row reads (and drops)
// the rest, or, outside a transaction and with many rows left, cancels it, so
// the connection serves the next statement.
#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "store/backends.hpp"

namespace microscape::controller::sql {
namespace {

constexpr unsigned kByteaOid = 17;
constexpr unsigned kBoolOid = 16;

struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::string trimmed(const char* s) {
    std::string m = s ? s : "";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

// Throws the Error that fits the SQLSTATE of a failed result.
[[noreturn]] void raise(PGconn* conn, const PGresult* res, std::string_view what) {
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    std::string sqlstate = state ? state : "";
    std::string msg = std::string(what) + ": " + trimmed(res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    if (msg.size() <= what.size() + 2) msg += trimmed(PQerrorMessage(conn));
    if (sqlstate.rfind("23", 0) == 0) throw ConstraintError(msg, sqlstate);
    if (sqlstate == "40001" || sqlstate == "40P01") throw RetryableError(msg, sqlstate);
    throw Error(msg, sqlstate);
}

std::string fromHex(std::string_view text) {  // bytea's text output: \x followed by hex pairs
    if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') return std::string(text);
    std::string out;
    out.reserve((text.size() - 2) / 2);
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return 0;
    };
    for (std::size_t i = 2; i + 1 < text.size(); i += 2)
        out += static_cast<char>(nibble(text[i]) << 4 | nibble(text[i + 1]));
    return out;
}

bool startsWithSelect(std::string_view sql) {
    const auto at = sql.find_first_not_of(" \t\r\n(");
    if (at == std::string_view::npos || sql.size() - at < 6) return false;
    std::string word(sql.substr(at, 6));
    for (auto& ch : word) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return word == "SELECT" && (sql.size() - at == 6 || !std::isalnum(static_cast<unsigned char>(sql[at + 6])));
}

class PgConn;

class PgStmt final : public Stmt {
  public:
    PgStmt(PgConn& conn, std::string sql, std::string name, std::size_t nparams)
        : conn_(conn),
          sql_(std::move(sql)),
          name_(std::move(name)),
          values_(nparams),
          binary_(nparams, 0),
          readOnly_(startsWithSelect(sql_)) {}
    ~PgStmt() override;

    Stmt& bind(std::size_t index, const Value& v) override {
        if (index >= values_.size())
            throw Error("parameter " + std::to_string(index + 1) + " of a statement with " +
                        std::to_string(values_.size()));
        binary_[index] = 0;
        if (auto p = std::get_if<std::int64_t>(&v))
            values_[index] = std::to_string(*p);
        else if (auto s = std::get_if<std::string>(&v))
            values_[index] = *s;
        else if (auto b = std::get_if<Blob>(&v)) {
            values_[index] = b->bytes;
            binary_[index] = 1;
        } else
            values_[index].reset();
        return *this;
    }

    bool step() override;

    void reset() override {
        finish();
        for (auto& v : values_) v.reset();
    }
    // Before the statement runs, its columns come from the server's description of it.
    std::size_t columns() const override { return static_cast<std::size_t>(PQnfields(shape())); }
    std::string columnName(std::size_t col) const override { return PQfname(shape(), static_cast<int>(col)); }
    bool isNull(std::size_t col) const override { return cell(col).null; }
    bool isText(std::size_t col) const override {
        if (isNull(col)) return false;
        switch (type(col)) {
            case 25:    // text
            case 1043:  // varchar
            case 1042:  // char(n)
            case 19:    // name
            case 18:    // "char"
                return true;
            default:
                return false;
        }
    }
    std::int64_t i64(std::size_t col) const override {
        const Cell v = cell(col);
        if (type(col) == kBoolOid) return v.len > 0 && v.p[0] == 't' ? 1 : 0;
        std::int64_t n = 0;
        std::from_chars(v.p, v.p + v.len, n);
        return n;
    }
    std::string str(std::size_t col) const override {
        const Cell c = cell(col);
        std::string_view v(c.p, static_cast<std::size_t>(c.len));
        if (type(col) == kByteaOid) return fromHex(v);
        if (type(col) == kBoolOid) return v == "t" ? "1" : "0";
        return std::string(v);
    }

    // Called by the connection before it runs anything else: the rest of this
    // statement's rows, read into memory.
    void materialise();

  private:
    // Ends a run: the rest read and dropped (or cancelled), the connection idle.
    void finish() noexcept;

    PgConn& conn_;
    std::string sql_;
    std::string name_;
    std::vector<std::optional<std::string>> values_;
    std::vector<int> binary_;
    const PGresult* shape() const;

    const bool readOnly_;  // a SELECT: cancelling it undoes nothing
    enum class State { Idle, Streaming, Done };
    State state_ = State::Idle;
    // The current row's column, from the streamed result or the materialised rows.
    struct Cell {
        const char* p;
        int len;
        bool null;
    };
    Cell cell(std::size_t col) const {
        if (inStore_) {
            const std::size_t i = storeRow_ * types_.size() + col;
            const int len = lens_.at(i);
            return {data_.data() + rowOffs_.at(col), len < 0 ? 0 : len, len < 0};
        }
        const int c = static_cast<int>(col);
        return {PQgetvalue(res_.get(), row_, c), PQgetlength(res_.get(), row_, c),
                PQgetisnull(res_.get(), row_, c) != 0};
    }
    unsigned type(std::size_t col) const {
        return inStore_ ? types_.at(col) : PQftype(res_.get(), static_cast<int>(col));
    }
    void store(const PGresult* r);

    // Materialised: the rows after the current one, packed (a PGresult per row
    // would cost kilobytes each); a failure that came after them.
    bool materialised_ = false;
    bool inStore_ = false;  // the current row is stored here
    std::vector<unsigned> types_;
    std::string data_;
    std::vector<int> lens_;             // each value's, row after row; -1: NULL
    std::size_t rowStart_ = 0;          // where the current row's values start in data_
    std::vector<std::size_t> rowOffs_;  // and where each of them does
    std::size_t storeRows_ = 0, storeRow_ = 0;
    ResultPtr failure_;
    ResultPtr res_;  // the result holding the current row
    mutable ResultPtr described_;
    int row_ = -1;
};

class PgConn final : public Conn {
  public:
    explicit PgConn(PGconn* c) : conn_(c) {}
    ~PgConn() override { PQfinish(conn_); }

    Backend backend() const override { return Backend::Postgres; }

    std::unique_ptr<Stmt> prepare(std::string_view sql) override {
        settle();
        std::string key(sql);
        if (auto it = idle_.find(key); it != idle_.end() && !it->second.empty()) {
            auto [name, n] = it->second.back();
            it->second.pop_back();
            return std::make_unique<PgStmt>(*this, std::move(key), std::move(name), n);
        }
        std::size_t n = 0;
        const std::string text = toDollarPlaceholders(key, &n);
        std::string name = "s" + std::to_string(++prepared_);
        ResultPtr r(PQprepare(conn_, name.c_str(), text.c_str(), static_cast<int>(n), nullptr));
        if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) raise(conn_, r.get(), "preparing a statement");
        return std::make_unique<PgStmt>(*this, std::move(key), std::move(name), n);
    }

    ResultPtr describe(const std::string& name) {
        settle();
        ResultPtr r(PQdescribePrepared(conn_, name.c_str()));
        if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) raise(conn_, r.get(), "describing a statement");
        return r;
    }

    void giveBack(std::string sql, std::string name, std::size_t n) {
        idle_[std::move(sql)].emplace_back(std::move(name), n);
    }

    // Sends a statement whose rows step() then takes one at a time.
    void send(PgStmt* stmt, const std::string& name, const std::vector<std::optional<std::string>>& values,
              const std::vector<int>& binary) {
        settle();
        std::vector<const char*> ptrs(values.size());
        std::vector<int> lengths(values.size());
        for (std::size_t i = 0; i < values.size(); ++i) {
            ptrs[i] = values[i] ? values[i]->data() : nullptr;
            lengths[i] = values[i] ? static_cast<int>(values[i]->size()) : 0;
        }
        if (!PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()), ptrs.data(), lengths.data(),
                                 binary.data(), 0))
            raise(conn_, nullptr, "running a statement");
        PQsetSingleRowMode(conn_);  // if refused, the rows come in one result, still read alike
        active_ = stmt;
    }
    // The next result of the streaming statement; null at its end (the connection is then idle).
    ResultPtr receive() {
        ResultPtr r(PQgetResult(conn_));
        if (!r) active_ = nullptr;
        return r;
    }
    void noteChanges(const PGresult* r) {
        const char* n = PQcmdTuples(const_cast<PGresult*>(r));
        changes_ = n && *n ? std::stoll(n) : 0;
    }
    void streamEnded(PgStmt* stmt) {
        if (active_ == stmt) active_ = nullptr;
    }
    bool streaming(const PgStmt* stmt) const { return active_ == stmt; }
    PGconn* handle() const { return conn_; }
    // Whether an abandoned statement may be cancelled: outside a transaction a
    // cancel ends nothing but the statement itself.
    bool inTransaction() const { return inTransaction_; }
    void cancelRunning() noexcept {
        if (PGcancel* c = PQgetCancel(conn_)) {
            char err[256];
            PQcancel(c, err, sizeof err);
            PQfreeCancel(c);
        }
    }

    // Before anything else runs: a statement still streaming reads the rest of its rows.
    void settle() {
        if (active_) {
            PgStmt* s = active_;
            s->materialise();
            active_ = nullptr;
        }
    }

    void execScript(std::string_view sql) override {
        settle();
        const std::string text(sql);
        ResultPtr r(PQexec(conn_, text.c_str()));
        const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) raise(conn_, r.get(), "running SQL");
    }

    std::int64_t changes() const override { return changes_; }
    bool healthy() const override { return PQstatus(conn_) == CONNECTION_OK; }

    void begin() override {
        execScript("BEGIN");
        inTransaction_ = true;
    }
    void commit() override {
        inTransaction_ = false;
        execScript("COMMIT");
    }
    void rollback() noexcept override {
        inTransaction_ = false;
        if (active_) {  // its rows are of no use now (the statement then reads no more)
            while (PGresult* r = PQgetResult(conn_)) PQclear(r);
            active_ = nullptr;
        }
        if (PQtransactionStatus(conn_) != PQTRANS_IDLE) PQclear(PQexec(conn_, "ROLLBACK"));
    }

  private:
    PGconn* conn_;
    std::int64_t prepared_ = 0;
    std::int64_t changes_ = 0;
    PgStmt* active_ = nullptr;  // the statement whose rows are streaming, if any
    bool inTransaction_ = false;
    std::map<std::string, std::vector<std::pair<std::string, std::size_t>>, std::less<>> idle_;
};

PgStmt::~PgStmt() {
    finish();
    conn_.giveBack(std::move(sql_), std::move(name_), values_.size());
}

const PGresult* PgStmt::shape() const {
    if (res_) return res_.get();
    if (!described_) described_ = conn_.describe(name_);
    return described_.get();
}

void PgStmt::store(const PGresult* r) {
    const int rows = PQntuples(r), cols = PQnfields(r);
    if (types_.empty())
        for (int c = 0; c < cols; ++c) types_.push_back(PQftype(r, c));
    for (int i = 0; i < rows; ++i) {
        for (int c = 0; c < cols; ++c) {
            if (PQgetisnull(r, i, c)) {
                lens_.push_back(-1);
                continue;
            }
            const int len = PQgetlength(r, i, c);
            data_.append(PQgetvalue(r, i, c), static_cast<std::size_t>(len));
            lens_.push_back(len);
        }
        ++storeRows_;
    }
}

void PgStmt::materialise() {
    if (state_ != State::Streaming || materialised_) return;
    materialised_ = true;
    // The rest of the current result (when it holds several rows), then the others.
    if (res_ && row_ + 1 < PQntuples(res_.get())) {
        ResultPtr rest = std::move(res_);
        const int cols = PQnfields(rest.get());
        for (int c = 0; c < cols; ++c) types_.push_back(PQftype(rest.get(), c));
        for (int i = row_ + 1; i < PQntuples(rest.get()); ++i)
            for (int c = 0; c < cols; ++c) {
                const int len = PQgetisnull(rest.get(), i, c) ? -1 : PQgetlength(rest.get(), i, c);
                if (len > 0) data_.append(PQgetvalue(rest.get(), i, c), static_cast<std::size_t>(len));
                lens_.push_back(len);
            }
        storeRows_ += static_cast<std::size_t>(PQntuples(rest.get()) - row_ - 1);
        res_ = std::move(rest);  // the current row stays readable
    }
    while (ResultPtr r = conn_.receive()) {
        const auto status = PQresultStatus(r.get());
        if (status == PGRES_SINGLE_TUPLE || status == PGRES_TUPLES_OK)
            store(r.get());
        else if (status == PGRES_COMMAND_OK)
            conn_.noteChanges(r.get());
        else if (!failure_)
            failure_ = std::move(r);
    }
}

bool PgStmt::step() {
    if (state_ == State::Done) return false;
    if (state_ == State::Idle) {
        res_.reset();
        row_ = -1;
        conn_.send(this, name_, values_, binary_);
        state_ = State::Streaming;
    }
    if (materialised_) {
        const std::size_t next = inStore_ ? storeRow_ + 1 : 0;
        if (next < storeRows_) {
            const std::size_t cols = types_.size();
            if (inStore_)  // past the current row's values
                for (std::size_t c = 0; c < cols; ++c)
                    rowStart_ += static_cast<std::size_t>(std::max(lens_[storeRow_ * cols + c], 0));
            inStore_ = true;
            storeRow_ = next;
            rowOffs_.resize(cols);
            for (std::size_t c = 0, at = rowStart_; c < cols; ++c) {
                rowOffs_[c] = at;
                at += static_cast<std::size_t>(std::max(lens_[next * cols + c], 0));
            }
            return true;
        }
        if (failure_) {
            ResultPtr f = std::move(failure_);
            finish();
            raise(conn_.handle(), f.get(), "running a statement");
        }
        finish();
        state_ = State::Done;
        return false;
    }
    // The rest of the current result first (one row in single-row mode).
    if (res_ && row_ + 1 < PQntuples(res_.get())) {
        ++row_;
        return true;
    }
    for (;;) {
        // Not streaming any more (a rollback dropped the rest): at its end.
        ResultPtr r = conn_.streaming(this) ? conn_.receive() : nullptr;
        if (!r) {
            if (!conn_.healthy()) {
                finish();
                raise(conn_.handle(), nullptr, "running a statement");
            }
            finish();
            state_ = State::Done;
            return false;
        }
        const auto status = PQresultStatus(r.get());
        if (status == PGRES_SINGLE_TUPLE || (status == PGRES_TUPLES_OK && PQntuples(r.get()) > 0)) {
            res_ = std::move(r);
            row_ = 0;
            return true;
        }
        if (status == PGRES_TUPLES_OK) continue;  // the end of the rows; null follows
        if (status == PGRES_COMMAND_OK) {
            conn_.noteChanges(r.get());
            continue;
        }
        // A failure (perhaps after some rows): the rest is read so the connection is idle.
        finish();
        raise(conn_.handle(), r.get(), "running a statement");
    }
}

void PgStmt::finish() noexcept {
    res_.reset();
    row_ = -1;
    if (state_ == State::Streaming && !materialised_ && conn_.streaming(this)) {
        // Read and drop the rest; many rows left outside a transaction: cancel.
        std::size_t left = 0;
        bool cancelled = false;
        while (ResultPtr r = conn_.receive()) {
            if (!cancelled && ++left > 1000 && readOnly_ && !conn_.inTransaction()) {
                conn_.cancelRunning();
                cancelled = true;
            }
        }
    }
    conn_.streamEnded(this);
    materialised_ = false;
    inStore_ = false;
    types_.clear();
    data_ = std::string();
    lens_ = {};
    rowStart_ = 0;
    rowOffs_.clear();
    storeRows_ = storeRow_ = 0;
    failure_.reset();
    state_ = State::Idle;
}

}  // namespace

std::unique_ptr<Conn> openPostgres(const std::string& conninfo, const std::string& password) {
    std::vector<const char*> keys{"dbname", "application_name", "connect_timeout"};
    std::vector<const char*> values{conninfo.c_str(), "microscape-controller", "10"};
    if (!password.empty()) {
        keys.push_back("password");
        values.push_back(password.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    PGconn* c = PQconnectdbParams(keys.data(), values.data(), 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        std::string msg = c ? trimmed(PQerrorMessage(c)) : "out of memory";
        PQfinish(c);
        throw Error("connecting to PostgreSQL: " + msg);
    }
    if (PQsetClientEncoding(c, "UTF8") != 0) {
        std::string msg = trimmed(PQerrorMessage(c));
        PQfinish(c);
        throw Error("setting the client encoding: " + msg);
    }
    // Notices and a server's parting message are not for stderr; errors reach
    // the caller as exceptions with the server's text.
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
    auto conn = std::make_unique<PgConn>(c);
    // Times are integers (milliseconds, UTC) in every table; the session zone
    // only matters to the few date functions the reports use.
    conn->execScript("SET TIME ZONE 'UTC'");
    // NOTICEs (e.g. "already exists, skipping") would go to stderr.
    conn->execScript("SET client_min_messages = warning");
    return conn;
}

}  // namespace microscape::controller::sql
