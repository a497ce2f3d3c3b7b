// Keeps docs/cli.md in step with the binary: runs `bbo --help` and `bbo <command> --help` for every command the
// built `bbo` lists, reads the option names, positionals and choice lists from CLI11's help text, and checks that
// docs/cli.md has a section for each command that mentions each of them. A new option without documentation, or
// a section left behind for a command that no longer exists, fails here.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/cli/child_harness.h"

namespace {

namespace fs = std::filesystem;

// ---- CLI11 help text

struct HelpEntry {
  std::vector<std::string> names;    // "-o", "--output"; or the positional's name ("OUT.db")
  std::vector<std::string> choices;  // from "TEXT:{table,json}"
  bool positional = false;
};

struct Help {
  std::vector<HelpEntry> entries;
  std::vector<std::string> subcommands;
};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

// CLI11 2.x prints sections "Positionals:", "Options:", "Subcommands:" whose entries start with two spaces; an
// entry's first column is its names (comma-separated), then a type ("TEXT", "INT:INT in [0 - 65535]",
// "TEXT:{a,b}=a"), then the description after a run of spaces or on the next line.
Help parse_help(const std::string& text) {
  Help h;
  std::string section;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ' && line.back() == ':') {
      section = line.substr(0, line.size() - 1);
      continue;
    }
    if (line.size() < 3 || line.compare(0, 2, "  ") != 0 || line[2] == ' ') continue;  // continuation lines
    const std::string body = line.substr(2);
    const std::string first = body.substr(0, body.find(' '));
    if (section == "Subcommands") {
      h.subcommands.push_back(first);
      continue;
    }
    if (section != "Options" && section != "Positionals") continue;
    HelpEntry e;
    e.positional = section == "Positionals";
    for (const auto& n : split(first, ',')) e.names.push_back(n);
    if (auto open = body.find(":{"); open != std::string::npos) {
      auto close = body.find('}', open);
      if (close != std::string::npos) e.choices = split(body.substr(open + 2, close - open - 2), ',');
    }
    h.entries.push_back(std::move(e));
  }
  return h;
}

// ---- docs/cli.md

struct Doc {
  std::map<std::string, std::string> sections;  // heading text (normalized) -> section text, heading included
  std::vector<std::string> command_headings;    // the normalized headings under "## Commands"
};

// "### `create-study`", "## bbo plot" and "## `bbo plot`" all name the command "plot".
std::string normalize_heading(std::string h) {
  h.erase(std::remove(h.begin(), h.end(), '`'), h.end());
  h = trim(h);
  if (h.rfind("bbo ", 0) == 0) h = trim(h.substr(4));
  return h;
}

Doc parse_doc(const std::string& text) {
  struct Heading {
    size_t pos;
    int level;
    std::string name;
  };
  std::vector<Heading> headings;
  bool in_fence = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    if (line.rfind("```", 0) == 0) in_fence = !in_fence;
    if (!in_fence && !line.empty() && line[0] == '#') {
      int level = static_cast<int>(line.find_first_not_of('#'));
      if (level > 0 && static_cast<size_t>(level) < line.size() && line[static_cast<size_t>(level)] == ' ')
        headings.push_back({pos, level, normalize_heading(line.substr(static_cast<size_t>(level)))});
    }
    pos = end + 1;
  }
  Doc d;
  bool under_commands = false;
  int commands_level = 0;
  for (size_t i = 0; i < headings.size(); ++i) {
    size_t stop = text.size();
    for (size_t j = i + 1; j < headings.size(); ++j)
      if (headings[j].level <= headings[i].level) {
        stop = headings[j].pos;
        break;
      }
    d.sections[headings[i].name] += text.substr(headings[i].pos, stop - headings[i].pos);
    if (headings[i].name == "Commands") {
      under_commands = true;
      commands_level = headings[i].level;
    } else if (under_commands && headings[i].level <= commands_level) {
      under_commands = false;
    } else if (under_commands && headings[i].level == commands_level + 1) {
      d.command_headings.push_back(headings[i].name);
    }
  }
  return d;
}

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }

// `word` occurs in `text` as a whole token: "--trial" is not found in "--trials", nor "-n" in "--n-trees".
bool mentions(const std::string& text, const std::string& word, bool ignore_case = false) {
  std::string t = text, w = word;
  if (ignore_case) {
    auto lower = [](std::string s) {
      std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
      return s;
    };
    t = lower(t);
    w = lower(w);
  }
  for (size_t at = t.find(w); at != std::string::npos; at = t.find(w, at + 1)) {
    bool left = at == 0 || !is_word_char(t[at - 1]);
    bool right = at + w.size() >= t.size() || !is_word_char(t[at + w.size()]);
    if (left && right) return true;
  }
  return false;
}

// What `doc` leaves undocumented of one command's help: one message per missing name. Options shared by every
// command (--help, --storage) may be documented once in the "Common options" section instead.
std::vector<std::string> undocumented(const std::string& command, const Help& help, const Doc& doc) {
  std::vector<std::string> missing;
  auto it = doc.sections.find(command);
  if (it == doc.sections.end()) return {"no section for command '" + command + "'"};
  const std::string& section = it->second;
  const auto common = doc.sections.find("Common options");
  static const std::set<std::string> kShared = {"-h", "--help", "--storage"};
  for (const auto& e : help.entries) {
    for (const auto& n : e.names) {
      if (e.positional ? mentions(section, n, /*ignore_case=*/true) : mentions(section, n)) continue;
      if (kShared.count(n) && common != doc.sections.end() && mentions(common->second, n)) continue;
      missing.push_back(std::string(e.positional ? "positional " : "option ") + n + " of '" + command + "'");
    }
    for (const auto& c : e.choices)
      if (!mentions(section, c))
        missing.push_back("choice '" + c + "' of " + e.names.back() + " of '" + command + "'");
  }
  return missing;
}

// ---- the checks

class CliDocsTest : public bbo::testing::TempDirTest {
 protected:
  std::string help_of(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BBO_CLI_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--help");
    fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    auto r = bbo::testing::wait_captured(bbo::testing::spawn_captured(argv, nullptr, {}, out, err), out, err);
    EXPECT_EQ(r.code, 0) << "bbo help failed: " << r.err;
    return r.out;
  }
  Doc doc() {
    std::string text = bbo::testing::read_text_file(fs::path(BBO_DOCS_DIR) / "cli.md");
    EXPECT_FALSE(text.empty()) << "cannot read " << BBO_DOCS_DIR << "/cli.md";
    return parse_doc(text);
  }
};

TEST_F(CliDocsTest, EveryCommandAndOptionIsDocumented) {
  const Help top = parse_help(help_of({}));
  ASSERT_GE(top.subcommands.size(), 10u) << "could not read the command list from bbo --help";
  const Doc d = doc();
  for (const auto& command : top.subcommands) {
    const Help h = parse_help(help_of({command}));
    EXPECT_GE(h.entries.size(), 2u) << "could not read the options of bbo " << command << " --help";
    for (const auto& m : undocumented(command, h, d)) ADD_FAILURE() << "docs/cli.md: " << m;
  }
}

TEST_F(CliDocsTest, TopLevelOptionsAreDocumented) {
  const Help top = parse_help(help_of({}));
  const Doc d = doc();
  auto common = d.sections.find("Common options");
  ASSERT_NE(common, d.sections.end()) << "docs/cli.md has no 'Common options' section";
  for (const auto& e : top.entries)
    for (const auto& n : e.names) EXPECT_TRUE(mentions(common->second, n)) << "bbo " << n << " is undocumented";
}

TEST_F(CliDocsTest, EverySectionUnderCommandsNamesACommand) {
  const Help top = parse_help(help_of({}));
  const Doc d = doc();
  ASSERT_FALSE(d.command_headings.empty()) << "docs/cli.md has no command sections under '## Commands'";
  std::set<std::string> known(top.subcommands.begin(), top.subcommands.end());
  for (const auto& h : d.command_headings)
    EXPECT_TRUE(known.count(h)) << "docs/cli.md documents '" << h << "', which bbo --help does not list";
}

// The checker itself: it must notice a missing option, positional or choice (so the tests above can fail).
TEST(CliDocsChecker, FindsWhatIsMissing) {
  const std::string help =
      "Do things\nUsage: bbo thing [OPTIONS] kind\n\nPositionals:\n  kind TEXT REQUIRED          what\n\n"
      "Options:\n  -h,--help                   Print this help message and exit\n"
      "  --storage TEXT              Storage URL\n"
      "  --format TEXT:{table,json}=table\n                              Output format\n"
      "  --trial INT REQUIRED        Trial\n  -o,--output TEXT            Out\n  -n INT                      K\n";
  const Help h = parse_help(help);
  ASSERT_EQ(h.entries.size(), 7u);
  EXPECT_TRUE(h.entries[0].positional);
  EXPECT_EQ(h.entries[3].choices, (std::vector<std::string>{"table", "json"}));
  EXPECT_EQ(h.entries[5].names, (std::vector<std::string>{"-o", "--output"}));

  const std::string common = "# x\n\n## Common options\n\n`--storage URL`, `-h, --help`\n\n## Commands\n\n";
  Doc full = parse_doc(common + "### `thing`\n\n`bbo thing KIND --trial N [--format table|json] [-o, --output F] [-n K]`\n");
  EXPECT_TRUE(undocumented("thing", h, full).empty());
  EXPECT_EQ(full.command_headings, (std::vector<std::string>{"thing"}));

  // "--trials" does not document "--trial", "--n-trees" does not document "-n", and json must be named.
  Doc partial = parse_doc(common + "## bbo thing\n\n`bbo thing KIND --trials N [--format table] [-o F] [--n-trees K]`\n"
                          "## Errors\n--output -n json --trial\n");
  EXPECT_EQ(undocumented("thing", h, partial),
            (std::vector<std::string>{"choice 'json' of --format of 'thing'", "option --trial of 'thing'",
                                      "option --output of 'thing'", "option -n of 'thing'"}));
  EXPECT_EQ(undocumented("other", h, partial), (std::vector<std::string>{"no section for command 'other'"}));
  // Text inside a code fence is not a heading.
  Doc fenced = parse_doc("## Commands\n\n### `a`\n\n```sh\n# comment\n```\n\nmore\n");
  EXPECT_EQ(fenced.command_headings, (std::vector<std::string>{"a"}));
  EXPECT_NE(fenced.sections["a"].find("more"), std::string::npos);
}

}  // namespace
