// Helpers for the storage tests: a fresh temporary directory per test, removed afterwards.
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ringgate::testing {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/ringgate-storage-XXXXXX";
    char* made = mkdtemp(pattern);
    path_ = made == nullptr ? std::string() : std::string(made);
  }
  ~TempDir() { RemoveTree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

  // Names in the directory, sorted, without "." and "..".
  std::vector<std::string> List() const {
    std::vector<std::string> names;
    if (DIR* dir = opendir(path_.c_str())) {
      while (dirent* entry = readdir(dir)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..")
          names.push_back(name);
      }
      closedir(dir);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  static void RemoveTree(const std::string& path) {
    if (path.empty())
      return;
    struct stat info;
    if (lstat(path.c_str(), &info) != 0)
      return;
    if (S_ISDIR(info.st_mode)) {
      chmod(path.c_str(), 0700);
      if (DIR* dir = opendir(path.c_str())) {
        std::vector<std::string> children;
        while (dirent* entry = readdir(dir)) {
          std::string name = entry->d_name;
          if (name != "." && name != "..")
            children.push_back(path + "/" + name);
        }
        closedir(dir);
        for (const std::string& child : children)
          RemoveTree(child);
      }
      rmdir(path.c_str());
    } else {
      unlink(path.c_str());
    }
  }

 private:
  std::string path_;
};

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline bool Exists(const std::string& path) {
  struct stat info;
  return lstat(path.c_str(), &info) == 0;
}

}  // namespace ringgate::testing
