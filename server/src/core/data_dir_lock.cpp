#include "core/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mentorsync::server {

namespace {

std::string lock_path(const std::string& data_dir) {
    return (std::filesystem::path(data_dir) / DataDirLock::kFileName).string();
}

}  // namespace

Result<std::unique_ptr<DataDirLock>> DataDirLock::acquire(const std::string& data_dir) {
    const std::string path = lock_path(data_dir);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::io("cannot open " + path + ": " + std::strerror(errno));
    int rc = 0;
    do {
        rc = ::flock(fd, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        const int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK)
            return Status::io("the data directory " + data_dir +
                              " is in use: another process holds " + kFileName +
                              " (a mentorsync-server serving it; one server per data directory)");
        return Status::io("cannot lock " + path + ": " + std::strerror(err));
    }
    return std::unique_ptr<DataDirLock>(new DataDirLock(fd));
}

DataDirLock::~DataDirLock() {
    if (fd_ >= 0) ::close(fd_);  // closing the only descriptor releases the flock
}

}  // namespace mentorsync::server
