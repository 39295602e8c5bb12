#include "microscape/player/engine_frame.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <Poco/Checksum.h>
#include <Poco/DeflatingStream.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "microscape/core/crypto.hpp"

namespace microscape::player {

namespace {

template <class F>
void forSamples(int width, int height, F&& f) {
    int stepX = std::max(1, width / 64), stepY = std::max(1, height / 36);
    for (int y = stepY / 2; y < height; y += stepY)
        for (int x = stepX / 2; x < width; x += stepX) f(x, y);
}

void put32(std::string& out, std::uint32_t v) {
    out.push_back(static_cast<char>(v >> 24));
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

void chunk(std::string& out, const char* type, const std::string& data) {
    put32(out, static_cast<std::uint32_t>(data.size()));
    std::string typed = std::string(type, 4) + data;
    out += typed;
    Poco::Checksum crc(Poco::Checksum::TYPE_CRC32);
    crc.update(typed.data(), static_cast<unsigned>(typed.size()));
    put32(out, crc.checksum());
}

}  // namespace

bool isBlack(const std::uint8_t* p, int width, int height, int threshold) {
    bool black = true;
    forSamples(width, height, [&](int x, int y) {
        const std::uint8_t* px = p + (static_cast<std::size_t>(y) * width + x) * 4;
        if (px[0] >= threshold || px[1] >= threshold || px[2] >= threshold) black = false;
    });
    return black;
}

bool isBlackEverywhere(const std::uint8_t* p, int width, int height, int threshold) {
    const std::size_t n = static_cast<std::size_t>(width) * height * 4;
    for (std::size_t i = 0; i < n; i += 4)
        if (p[i] >= threshold || p[i + 1] >= threshold || p[i + 2] >= threshold) return false;
    return true;
}

double meanLuma(const std::uint8_t* p, int width, int height) {
    double sum = 0;
    long n = 0;
    forSamples(width, height, [&](int x, int y) {
        const std::uint8_t* px = p + (static_cast<std::size_t>(y) * width + x) * 4;
        sum += 0.114 * px[0] + 0.587 * px[1] + 0.299 * px[2];
        ++n;
    });
    return n ? sum / n : 0.0;
}

std::vector<std::uint8_t> downscaleRgb(const Frame& f, int w, int h) {
    std::vector<std::uint8_t> out(static_cast<std::size_t>(w) * h * 3);
    if (f.empty()) return out;
    for (int ty = 0; ty < h; ++ty) {
        int y0 = ty * f.height / h, y1 = std::max(y0 + 1, (ty + 1) * f.height / h);
        for (int tx = 0; tx < w; ++tx) {
            int x0 = tx * f.width / w, x1 = std::max(x0 + 1, (tx + 1) * f.width / w);
            std::uint64_t s[3] = {0, 0, 0}, n = 0;
            for (int y = y0; y < y1; ++y)
                for (int x = x0; x < x1; ++x) {
                    const std::uint8_t* px = &f.bgrx[(static_cast<std::size_t>(y) * f.width + x) * 4];
                    s[0] += px[2];
                    s[1] += px[1];
                    s[2] += px[0];
                    ++n;
                }
            for (int c = 0; c < 3; ++c)
                out[(static_cast<std::size_t>(ty) * w + tx) * 3 + c] = static_cast<std::uint8_t>(s[c] / n);
        }
    }
    return out;
}

std::string frameDigest(const Frame& f) {
    return crypto::toHex(crypto::sha256(std::string_view(reinterpret_cast<const char*>(f.bgrx.data()), f.bgrx.size())));
}

std::string encodePng(const Frame& f) {
    std::string out("\x89PNG\r\n\x1a\n", 8);
    std::string ihdr;
    put32(ihdr, static_cast<std::uint32_t>(f.width));
    put32(ihdr, static_cast<std::uint32_t>(f.height));
    ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, deflate, no filter method, no interlace
    chunk(out, "IHDR", ihdr);
    std::ostringstream z;
    {
        Poco::DeflatingOutputStream deflate(z, Poco::DeflatingStreamBuf::STREAM_ZLIB, 6);
        std::string row(static_cast<std::size_t>(f.width) * 3 + 1, '\0');
        for (int y = 0; y < f.height; ++y) {
            row[0] = 0;  // filter type None
            const std::uint8_t* src = &f.bgrx[static_cast<std::size_t>(y) * f.width * 4];
            for (int x = 0; x < f.width; ++x) {
                row[1 + x * 3] = static_cast<char>(src[x * 4 + 2]);
                row[2 + x * 3] = static_cast<char>(src[x * 4 + 1]);
                row[3 + x * 3] = static_cast<char>(src[x * 4 + 0]);
            }
            deflate.write(row.data(), static_cast<std::streamsize>(row.size()));
        }
        deflate.close();
    }
    chunk(out, "IDAT", z.str());
    chunk(out, "IEND", "");
    return out;
}

Status writePngFile(const Frame& f, const std::string& path) {
    std::string bytes = encodePng(f);
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return makeError(Errc::Io, "preview: cannot write " + tmp);
    std::size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
        if (n <= 0) {
            ::close(fd);
            return makeError(Errc::Io, "preview: write failed for " + tmp);
        }
        off += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) return makeError(Errc::Io, "preview: cannot rename to " + path);
    return {};
}

Frame solidFrame(int width, int height, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    Frame f;
    f.width = width;
    f.height = height;
    f.bgrx.resize(static_cast<std::size_t>(width) * height * 4);
    for (std::size_t i = 0; i < f.bgrx.size(); i += 4) {
        f.bgrx[i] = b;
        f.bgrx[i + 1] = g;
        f.bgrx[i + 2] = r;
        f.bgrx[i + 3] = 255;
    }
    return f;
}

}  // namespace microscape::player
