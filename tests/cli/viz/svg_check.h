// svg_check.h — a minimal XML reader for the plot tests: checks that tags balance, counts elements by name
// and pulls out attributes and text. Enough for the SVG bbo_viz writes (no CDATA, no comments). Test code.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bbo::testing {

struct SvgElement {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::string text;     // direct text content (for <text> and <title>)
  std::string parents;  // "svg/g/..." path of the enclosing elements, with their class attribute: "g.trials"
};

struct SvgParse {
  bool ok = false;
  std::string error;
  std::vector<SvgElement> elements;  // in document order
  std::size_t count(const std::string& name) const {
    std::size_t n = 0;
    for (const auto& e : elements) n += e.name == name;
    return n;
  }
  // Elements named `name` with attribute `key` equal to `value`.
  std::vector<const SvgElement*> with(const std::string& name, const std::string& key, const std::string& value) const {
    std::vector<const SvgElement*> out;
    for (const auto& e : elements) {
      auto it = e.attrs.find(key);
      if (e.name == name && it != e.attrs.end() && it->second == value) out.push_back(&e);
    }
    return out;
  }
  // Elements named `name` inside a <g class="cls">.
  std::vector<const SvgElement*> inside(const std::string& cls, const std::string& name) const {
    std::vector<const SvgElement*> out;
    for (const auto& e : elements)
      if (e.name == name && e.parents.find("g." + cls) != std::string::npos) out.push_back(&e);
    return out;
  }
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (const auto& e : elements)
      if (e.name == "text") out.push_back(e.text);
    return out;
  }
};

inline SvgParse parse_svg(const std::string& doc) {
  SvgParse r;
  std::vector<std::size_t> stack;  // indices into r.elements
  std::size_t i = 0;
  auto fail = [&](const std::string& why) {
    r.ok = false;
    r.error = why + " at offset " + std::to_string(i);
    return r;
  };
  bool seen_root = false;
  while (i < doc.size()) {
    if (doc[i] != '<') {
      const std::size_t j = doc.find('<', i);
      const std::string text = doc.substr(i, j == std::string::npos ? std::string::npos : j - i);
      if (text.find('>') != std::string::npos) return fail("unescaped '>' in text");
      for (std::size_t a = text.find('&'); a != std::string::npos; a = text.find('&', a + 1))
        if (text.find(';', a) == std::string::npos) return fail("bad entity");
      if (!stack.empty()) r.elements[stack.back()].text += text;
      else if (text.find_first_not_of(" \n\t\r") != std::string::npos) return fail("text outside the root");
      if (j == std::string::npos) break;
      i = j;
      continue;
    }
    const std::size_t end = doc.find('>', i);
    if (end == std::string::npos) return fail("unterminated tag");
    std::string tag = doc.substr(i + 1, end - i - 1);
    i = end + 1;
    if (!tag.empty() && tag[0] == '?') continue;  // <?xml ...?>
    if (!tag.empty() && tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || r.elements[stack.back()].name != name) return fail("unbalanced </" + name + ">");
      stack.pop_back();
      continue;
    }
    const bool self_closing = !tag.empty() && tag.back() == '/';
    if (self_closing) tag.pop_back();
    SvgElement e;
    std::size_t p = tag.find_first_of(" \n\t");
    e.name = tag.substr(0, p);
    while (p != std::string::npos && p < tag.size()) {
      p = tag.find_first_not_of(" \n\t", p);
      if (p == std::string::npos) break;
      const std::size_t eq = tag.find('=', p);
      if (eq == std::string::npos || eq + 1 >= tag.size() || tag[eq + 1] != '"') return fail("bad attribute in <" + e.name + ">");
      const std::size_t q = tag.find('"', eq + 2);
      if (q == std::string::npos) return fail("unterminated attribute");
      const std::string key = tag.substr(p, eq - p), value = tag.substr(eq + 2, q - eq - 2);
      if (value.find('<') != std::string::npos) return fail("'<' in an attribute value");
      if (!e.attrs.emplace(key, value).second) return fail("duplicate attribute " + key);
      p = q + 1;
    }
    if (e.name.empty()) return fail("empty tag");
    if (stack.empty()) {
      if (seen_root) return fail("two root elements");
      if (e.name != "svg") return fail("root is not <svg>");
      seen_root = true;
    }
    for (std::size_t s : stack) {
      const auto& pe = r.elements[s];
      auto c = pe.attrs.find("class");
      e.parents += pe.name + (c == pe.attrs.end() ? "" : "." + c->second) + "/";
    }
    r.elements.push_back(std::move(e));
    if (!self_closing) stack.push_back(r.elements.size() - 1);
  }
  if (!stack.empty()) return fail("unclosed <" + r.elements[stack.back()].name + ">");
  if (!seen_root) return fail("no <svg>");
  r.ok = true;
  return r;
}

// The points of a polyline's "points" attribute.
inline std::vector<std::pair<double, double>> polyline_points(const SvgElement& e) {
  std::vector<std::pair<double, double>> out;
  auto it = e.attrs.find("points");
  if (it == e.attrs.end()) return out;
  const std::string& s = it->second;
  std::size_t p = 0;
  while (p < s.size()) {
    const std::size_t comma = s.find(',', p);
    if (comma == std::string::npos) break;
    std::size_t space = s.find(' ', comma);
    if (space == std::string::npos) space = s.size();
    out.emplace_back(std::stod(s.substr(p, comma - p)), std::stod(s.substr(comma + 1, space - comma - 1)));
    p = space + 1;
  }
  return out;
}

}  // namespace bbo::testing
