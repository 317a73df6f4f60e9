// What milters may change at the end of a message (add, insert and change headers,
// replace the body, add and delete recipients, change the sender), applied to a message
// and its envelope. Header positions and indexes follow libmilter: smfi_insheader's
// index counts from 0 at the top, smfi_chgheader's from 1 among the fields of that name
// (any case), and an empty value deletes.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "milter/packet.hpp"

namespace haineko::milter {

struct HeaderField {
    std::string name;
    std::string value;  // as it follows the colon, folding kept, without the final CRLF
};

struct Editable {
    std::vector<HeaderField> headers;
    std::string body;                 // CRLF lines
    std::string sender;               // without <>
    std::vector<std::string> rcpts;   // without <>
    bool body_replaced = false;       // a first 'b' replaces, the next ones append
    bool changed = false;             // some change applied: the message must be written anew
};

// A new filter's turn: a body the last one replaced gets its CRLF line ends now, and this
// filter's first 'b' replaces it rather than appending to it.
void next_filter(Editable& e);

// The message split into its header fields and its body (at the first empty line).
Editable editable(std::string_view message, std::string sender, std::vector<std::string> rcpts);
// The message again, CRLF line ends.
std::string message_of(const Editable& e);

// Applies one change reply ('h', 'i', 'm', 'b', '+', '2', '-', 'e'); false for any other
// reply, or one that cannot apply (a header name that is not a field name).
bool apply(const Reply& change, Editable& e);

}  // namespace haineko::milter
