#pragma once
#include <string>
#include <vector>

namespace haineko {

struct SetupFile {
    std::string path;  // relative to the destination
    std::string content;
    bool secret;       // written mode 0600
};

// The working tree `hainekoctl setup` writes: etc/ with commented files whose defaults
// deliver into DIR/outbox through the File mailer, so that a first POST works at once.
std::vector<SetupFile> setup_files();

}  // namespace haineko
