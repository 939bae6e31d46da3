// TcpStore (store.h): a tiny key-value protocol over one TCP connection per client.
//   request:  op (1 byte: 'S' set, 'G' get) | key length (u32) | key | [value length (u32) | value]
//   reply to 'G': found (1 byte) | [value length (u32) | value];  reply to 'S': 1 byte ack.
// The server (rank 0) runs one thread per connection; a world is a handful of ranks.
#include "dist/store.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <gloo/rendezvous/file_store.h>

#include "tensor/error.h"

namespace ember::dist {

namespace {

using Clock = std::chrono::steady_clock;

bool send_all(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t k = ::send(fd, c, n, MSG_NOSIGNAL);
    if (k <= 0) return false;
    c += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool recv_all(int fd, void* p, size_t n) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t k = ::recv(fd, c, n, 0);
    if (k <= 0) return false;
    c += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool send_blob(int fd, const char* p, uint32_t n) { return send_all(fd, &n, 4) && send_all(fd, p, n); }
bool recv_blob(int fd, std::vector<char>& out) {
  uint32_t n = 0;
  if (!recv_all(fd, &n, 4) || n > (64u << 20)) return false;
  out.resize(n);
  return recv_all(fd, out.data(), n);
}

// Rank 0's server: listens on `port` (all interfaces), serves until destroyed.
class StoreServer {
 public:
  explicit StoreServer(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    EMBER_CHECK(fd_ >= 0, "store: socket() failed ({})", std::strerror(errno));
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 64) != 0) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      EMBER_CHECK(false, "store: cannot listen on port {} ({})", port, why);
    }
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~StoreServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    accept_thread_.join();
    std::lock_guard lock(mu_);
    for (int c : clients_) ::shutdown(c, SHUT_RDWR);
    for (auto& t : threads_) t.join();
    for (int c : clients_) ::close(c);
    ::close(fd_);
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::lock_guard lock(mu_);
      clients_.push_back(c);
      threads_.emplace_back([this, c] { serve(c); });
    }
  }
  void serve(int c) {
    std::vector<char> key, value;
    for (char op = 0; recv_all(c, &op, 1) && recv_blob(c, key);) {
      const std::string k(key.begin(), key.end());
      if (op == 'S') {
        if (!recv_blob(c, value)) return;
        {
          std::lock_guard lock(mu_);
          data_[k] = value;
        }
        const char ack = 1;
        if (!send_all(c, &ack, 1)) return;
      } else {
        std::lock_guard lock(mu_);
        auto it = data_.find(k);
        const char found = it != data_.end();
        if (!send_all(c, &found, 1) || (found && !send_blob(c, it->second.data(), it->second.size()))) return;
      }
    }
  }

  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::map<std::string, std::vector<char>> data_;
  std::vector<int> clients_;
  std::vector<std::thread> threads_;
};

class TcpStore final : public gloo::rendezvous::Store {
 public:
  TcpStore(const std::string& host, int port, bool serve, std::chrono::milliseconds timeout)
      : where_(host + ":" + std::to_string(port)), timeout_(timeout) {
    if (serve) server_ = std::make_unique<StoreServer>(port);
    connect(host, port);
  }
  ~TcpStore() override {
    if (fd_ >= 0) ::close(fd_);
  }

  void set(const std::string& key, const std::vector<char>& data) override {
    std::lock_guard lock(mu_);
    char ack = 0;
    EMBER_CHECK(send_all(fd_, "S", 1) && send_blob(fd_, key.data(), key.size()) &&
                    send_blob(fd_, data.data(), data.size()) && recv_all(fd_, &ack, 1),
                "store: lost the connection to {} while setting '{}'", where_, key);
  }
  std::vector<char> get(const std::string& key) override {
    wait({key}, timeout_);
    std::vector<char> v;
    try_get(key, v);
    return v;
  }
  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override {
    const auto deadline = Clock::now() + timeout;
    std::vector<char> v;
    for (const auto& key : keys) {
      while (!try_get(key, v)) {
        EMBER_CHECK(Clock::now() < deadline, "store: key '{}' did not appear at {} within {} ms (a rank is missing)",
                    key, where_, timeout.count());
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }

 private:
  bool try_get(const std::string& key, std::vector<char>& out) {
    std::lock_guard lock(mu_);
    char found = 0;
    EMBER_CHECK(send_all(fd_, "G", 1) && send_blob(fd_, key.data(), key.size()) && recv_all(fd_, &found, 1) &&
                    (!found || recv_blob(fd_, out)),
                "store: lost the connection to {} while reading '{}'", where_, key);
    return found != 0;
  }

  // Retries until the server is up (rank 0 may start last) or the timeout passes.
  void connect(const std::string& host, int port) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    const int err = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    EMBER_CHECK(err == 0 && res, "store: cannot resolve '{}' ({})", host, ::gai_strerror(err));
    const auto deadline = Clock::now() + timeout_;
    for (;;) {
      fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd_ >= 0 && ::connect(fd_, res->ai_addr, res->ai_addrlen) == 0) break;
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      if (Clock::now() >= deadline) {
        ::freeaddrinfo(res);
        EMBER_CHECK(false, "store: cannot connect to {} within {} ms (is rank 0 running?)", where_, timeout_.count());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::freeaddrinfo(res);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }

  std::string where_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<StoreServer> server_;
  std::mutex mu_;
  int fd_ = -1;
};

}  // namespace

std::shared_ptr<gloo::rendezvous::Store> open_store(const std::string& url, int rank,
                                                    std::chrono::milliseconds timeout) {
  if (url.rfind("file:", 0) == 0) {
    const std::string path = url.substr(5);
    EMBER_CHECK(!path.empty(), "store: '{}' names no folder (expected file:PATH)", url);
    return std::make_shared<gloo::rendezvous::FileStore>(path);
  }
  if (url.rfind("tcp://", 0) == 0) {
    const std::string hp = url.substr(6);
    const auto colon = hp.rfind(':');
    EMBER_CHECK(colon != std::string::npos && colon > 0, "store: '{}' has no HOST:PORT", url);
    int port = 0;
    try {
      port = std::stoi(hp.substr(colon + 1));
    } catch (const std::exception&) {
    }
    EMBER_CHECK(port > 0 && port < 65536, "store: '{}' has no valid port", url);
    return std::make_shared<TcpStore>(hp.substr(0, colon), port, rank == 0, timeout);
  }
  EMBER_CHECK(false, "store: unknown rendezvous '{}' (expected tcp://HOST:PORT or file:PATH)", url);
  return nullptr;
}

}  // namespace ember::dist
