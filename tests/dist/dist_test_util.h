// Helpers for the dist tests: temp folders, free loopback ports, error-message assertions.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

// Expects `stmt` to throw a std::exception whose message contains `text`.
#define EXPECT_THROW_MSG(stmt, text)                                                   \
  do {                                                                                 \
    try {                                                                              \
      stmt;                                                                            \
      ADD_FAILURE() << #stmt " did not throw";                                         \
    } catch (const std::exception& e_) {                                               \
      EXPECT_NE(std::string(e_.what()).find(text), std::string::npos) << e_.what();   \
    }                                                                                  \
  } while (0)

namespace ember::dist::testing {

inline std::filesystem::path make_temp_dir(const std::string& stem) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() / (stem + "_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

// A port that was free a moment ago on 127.0.0.1 (the OS picks it).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace ember::dist::testing
