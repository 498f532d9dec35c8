# Minimal JSON flattener for busybox awk.
# Usage: awk -v want=PATH -f json.awk file.json
#   prints the value at PATH (keys joined by "/", array indexes 0..n),
#   or, if PATH names an object/array, every scalar below it, one per line.
#   want="" prints "path<TAB>value" for every scalar (debugging).
# Limits: \uXXXX escapes become "?" (non-ASCII lost); values containing
#   newlines print on several lines (a trailing newline is stripped);
#   keys containing "/" are ambiguous; invalid JSON -> exit 1.
function err(m) { print "json.awk: " m " at offset " pos > "/dev/stderr"; bad = 1; exit 1 }
function ws() { while (pos <= n && index(" \t\r\n", substr(s, pos, 1))) pos++ }
function str(   out, c, e) {
  pos++; out = ""
  while (pos <= n) {
    if (match(substr(s, pos), /^[^"\\]+/)) { out = out substr(s, pos, RLENGTH); pos += RLENGTH; continue }
    c = substr(s, pos, 1)
    if (c == "\"") { pos++; return out }
    e = substr(s, pos + 1, 1); pos += 2
    if (e == "n") out = out "\n"; else if (e == "t") out = out "\t"
    else if (e == "r" || e == "b" || e == "f") out = out
    else if (e == "u") { out = out "?"; pos += 4 } else out = out e
  }
  err("unterminated string")
}
function emit(p, v) {
  sub(/\n+$/, "", v)
  if (want == "") print p "\t" v
  else if (p == want || substr(p, 1, length(want) + 1) == want "/") print v
}
function val(path,   c, k, i) {
  ws(); c = substr(s, pos, 1)
  if (c == "{" || c == "[") {
    pos++; ws(); i = 0
    if (substr(s, pos, 1) == (c == "{" ? "}" : "]")) { pos++; return }
    while (1) {
      ws()
      if (c == "{") {
        if (substr(s, pos, 1) != "\"") err("expected key")
        k = str(); ws()
        if (substr(s, pos, 1) != ":") err("expected :")
        pos++
      } else k = i++
      val(path == "" ? k : path "/" k)
      ws(); k = substr(s, pos, 1); pos++
      if (k == (c == "{" ? "}" : "]")) return
      if (k != ",") err("expected , or close")
    }
  }
  if (c == "\"") { emit(path, str()); return }
  if (match(substr(s, pos), /^(-?[0-9][0-9.eE+-]*|true|false|null)/)) { emit(path, substr(s, pos, RLENGTH)); pos += RLENGTH; return }
  err("bad value")
}
{ s = s $0 "\n" }
END { if (bad) exit 1; n = length(s); pos = 1; val(""); ws(); if (pos <= n) err("trailing data") }
