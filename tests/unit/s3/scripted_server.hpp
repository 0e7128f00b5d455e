// A tiny HTTP/1.1 server on loopback for the retry tests: it answers each
// request with the next reply of a script (then closes the connection) and
// records the requests it got. Just enough HTTP for libcurl; no TLS.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hsm::repo::s3::test {

struct ScriptedReply {
  int status;
  std::string reason;
  std::string body;
};

class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<ScriptedReply> script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 8);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The request lines ("GET /b/k HTTP/1.1") in order.
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    for (const auto& reply : script_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      std::size_t end = std::string::npos;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(in.substr(0, in.find("\r\n")));
      }
      std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + reply.reason +
                        "\r\nContent-Type: application/xml\r\nContent-Length: " +
                        std::to_string(reply.body.size()) + "\r\nConnection: close\r\n\r\n" +
                        reply.body;
      (void)!::write(c, out.data(), out.size());
      ::close(c);
    }
  }

  std::vector<ScriptedReply> script_;
  std::vector<std::string> requests_;
  mutable std::mutex mutex_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace hsm::repo::s3::test
