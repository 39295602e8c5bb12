#include "store/sql.hpp"

#include <charconv>

namespace microscape::controller::sql {

std::string_view backendName(Backend b) {
    return b == Backend::Postgres ? "postgresql" : "sqlite";
}

std::int64_t Row::i64(std::size_t i) const {
    const auto& v = cols_.at(i);
    if (auto p = std::get_if<std::int64_t>(&v)) return *p;
    if (auto s = std::get_if<std::string>(&v)) {
        std::int64_t n = 0;
        std::from_chars(s->data(), s->data() + s->size(), n);
        return n;
    }
    return 0;
}

std::string Row::str(std::size_t i) const {
    const auto& v = cols_.at(i);
    if (auto s = std::get_if<std::string>(&v)) return *s;
    if (auto p = std::get_if<std::int64_t>(&v)) return std::to_string(*p);
    if (auto b = std::get_if<Blob>(&v)) return b->bytes;
    return {};
}

std::optional<std::int64_t> Row::optI64(std::size_t i) const {
    if (isNull(i)) return std::nullopt;
    return i64(i);
}

std::optional<std::string> Row::optStr(std::size_t i) const {
    if (isNull(i)) return std::nullopt;
    return str(i);
}

Stmt& Stmt::bindAll(const Params& params) {
    for (std::size_t i = 0; i < params.size(); ++i) bind(i, params[i]);
    return *this;
}

void Stmt::run() {
    while (step()) {
    }
    reset();
}

Row Stmt::row() const {
    std::vector<Value> cols;
    cols.reserve(columns());
    for (std::size_t c = 0; c < columns(); ++c) {
        if (isNull(c))
            cols.emplace_back(nullptr);
        else
            cols.emplace_back(str(c));
    }
    return Row(std::move(cols));
}

void Conn::exec(std::string_view sql, const Params& params) {
    auto st = prepare(sql);
    st->bindAll(params);
    st->run();
}

std::vector<Row> Conn::query(std::string_view sql, const Params& params) {
    auto st = prepare(sql);
    st->bindAll(params);
    std::vector<Row> rows;
    while (st->step()) rows.push_back(st->row());
    st->reset();
    return rows;
}

std::optional<Row> Conn::one(std::string_view sql, const Params& params) {
    auto st = prepare(sql);
    st->bindAll(params);
    std::optional<Row> r;
    if (st->step()) r = st->row();
    st->reset();
    return r;
}

std::string toDollarPlaceholders(std::string_view sql, std::size_t* count) {
    std::string out;
    out.reserve(sql.size() + 16);
    std::size_t n = 0;
    for (std::size_t i = 0; i < sql.size(); ++i) {
        const char c = sql[i];
        if (c == '\'' || c == '"') {  // a literal or quoted identifier; a doubled quote stays inside
            const std::size_t start = i++;
            while (i < sql.size()) {
                if (sql[i] == c) {
                    if (i + 1 < sql.size() && sql[i + 1] == c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                ++i;
            }
            out.append(sql.substr(start, i - start + (i < sql.size() ? 1 : 0)));
        } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            const std::size_t end = sql.find('\n', i);
            const std::size_t stop = end == std::string_view::npos ? sql.size() : end;
            out.append(sql.substr(i, stop - i));
            i = stop - 1;
        } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
            const std::size_t end = sql.find("*/", i + 2);
            const std::size_t stop = end == std::string_view::npos ? sql.size() : end + 2;
            out.append(sql.substr(i, stop - i));
            i = stop - 1;
        } else if (c == '?') {
            out += '$';
            out += std::to_string(++n);
        } else {
            out += c;
        }
    }
    if (count) *count = n;
    return out;
}

}  // namespace microscape::controller::sql
