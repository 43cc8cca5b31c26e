// Messages of the block scheduler's errors. Built only when something went wrong.
//
// Shape: "kernel 'NAME' block (x,y,z): <what> can never complete: thread (x,y,z) did not arrive,
// it <has exited | is waiting at OP at FILE:LINE | is still running>. <N> of <M> threads
// arrived: <list>; exited: <list>; waiting at ...: <list>."
// Threads are written as threadIdx triples; consecutive threads (in linear order) as a..b.
#pragma once
#include <cstdio>
#include <string>
#include <utility>
#include <vector>
#include "kvforge/emu/scheduler/block.hpp"

namespace kvf::emu::detail {

inline std::string tidText(const uint3& t) {
  return "(" + std::to_string(t.x) + "," + std::to_string(t.y) + "," + std::to_string(t.z) + ")";
}

inline std::string siteText(const Site& s) {
  return std::string(s.op) + " at " + s.file + ":" + std::to_string(s.line);
}

inline std::string maskText(unsigned m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", m);
  return buf;
}

// Lane numbers of a mask as ranges: "0-15,17".
inline std::string laneText(unsigned mask) {
  std::string out;
  for (int i = 0; i < 32;) {
    if (!((mask >> i) & 1u)) {
      ++i;
      continue;
    }
    int j = i;
    while (j + 1 < 32 && ((mask >> (j + 1)) & 1u)) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(i);
    if (j > i) out += "-" + std::to_string(j);
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

// Items grouped by a describing text, in order of first appearance.
template <class T>
using Groups = std::vector<std::pair<std::string, std::vector<T>>>;

template <class T>
void addToGroup(Groups<T>& groups, const std::string& key, T item) {
  for (auto& g : groups)
    if (g.first == key) return g.second.push_back(item);
  groups.push_back({key, {item}});
}

inline std::string BlockRunner::where() const {
  return std::string("kernel '") + kernel_->name + "' block " + tidText(blockIdx_);
}

inline std::string BlockRunner::waitText(const Fiber& f) const {
  switch (f.wait) {
    case Wait::Done: return "exited";
    case Wait::Barrier: return "waiting at " + siteText(f.site);
    case Wait::Warp: {
      const Rendezvous& r = warps_[f.warp].pending[f.rendezvous];
      return "waiting at " + std::string(f.site.op) + "(mask " + maskText(r.mask) + ") at " + f.site.file + ":" +
             std::to_string(f.site.line) + " in warp " + std::to_string(f.warp);
    }
    case Wait::Ready: break;
  }
  return "still running";
}

// "it has exited" / "it is waiting at ..." / "it is still running".
inline std::string BlockRunner::itText(const Fiber& f) const {
  return (f.wait == Wait::Done ? "it has " : "it is ") + waitText(f);
}

// Which of the threads that did not arrive to name: one that exited (the usual cause), else one
// waiting elsewhere, else one still running.
inline const Fiber* BlockRunner::culprit(const std::vector<const Fiber*>& missing) const {
  const auto rank = [](const Fiber* f) { return f->wait == Wait::Done ? 0 : f->wait == Wait::Ready ? 2 : 1; };
  const Fiber* best = nullptr;
  for (const Fiber* f : missing)
    if (best == nullptr || rank(f) < rank(best)) best = f;
  return best;
}

inline std::string BlockRunner::threadList(const std::vector<unsigned>& linear) const {
  constexpr int kMaxRanges = 8;
  std::string out;
  int ranges = 0;
  for (size_t i = 0; i < linear.size();) {
    size_t j = i;
    while (j + 1 < linear.size() && linear[j + 1] == linear[j] + 1) ++j;
    if (ranges == kMaxRanges) {
      out += ", ... (" + std::to_string(linear.size()) + " threads in all)";
      break;
    }
    if (!out.empty()) out += ", ";
    out += tidText(fibers_[linear[i]].tid);
    if (j > i) out += ".." + tidText(fibers_[linear[j]].tid);
    ++ranges;
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

inline std::string BlockRunner::barrierReport(const Site& site, const Fiber* arriving) const {
  std::vector<unsigned> arrived;
  std::vector<const Fiber*> absent;
  Groups<unsigned> missing;
  for (const Fiber& f : fibers_) {
    if (&f == arriving || f.wait == Wait::Barrier) {
      arrived.push_back(f.linear);
    } else {
      absent.push_back(&f);
      addToGroup(missing, waitText(f), f.linear);
    }
  }
  std::string out = siteText(site) + " can never complete: ";
  if (const Fiber* c = culprit(absent)) out += "thread " + tidText(c->tid) + " did not arrive, " + itText(*c) + ". ";
  out += std::to_string(arrived.size()) + " of " + std::to_string(n_) + " threads arrived: " + threadList(arrived);
  for (const auto& g : missing) out += "; " + g.first + ": " + threadList(g.second);
  return out + ". Every thread of a block must reach each __syncthreads().";
}

inline std::string BlockRunner::barrierMismatchReport() const {
  Groups<unsigned> bySite;
  for (const Fiber& f : fibers_)
    if (f.wait == Wait::Barrier || &f == current_) addToGroup(bySite, siteText(f.site), f.linear);
  std::string out = "threads reached different barrier calls: ";
  for (size_t i = 0; i < bySite.size(); ++i)
    out += (i ? "; " : "") + threadList(bySite[i].second) + " at " + bySite[i].first;
  return out + ". Every thread of a block must reach the same __syncthreads() (divergent control flow around a "
               "barrier).";
}

inline std::string BlockRunner::warpReport(unsigned warp, const Rendezvous& r, const Fiber* arriving) const {
  const unsigned arrived = r.arrived | (arriving ? 1u << arriving->lane : 0u);
  std::vector<const Fiber*> absent;
  Groups<unsigned> missing;  // lanes
  for (unsigned u = r.mask & ~arrived; u != 0; u &= u - 1) {
    const unsigned lane = unsigned(__builtin_ctz(u));
    absent.push_back(&fibers_[warp * 32 + lane]);
    addToGroup(missing, waitText(fibers_[warp * 32 + lane]), lane);
  }
  std::string out = "warp " + std::to_string(warp) + ": " + r.site.op + "(mask " + maskText(r.mask) + ") at " +
                    r.site.file + ":" + std::to_string(r.site.line) + " can never complete: ";
  if (const Fiber* c = culprit(absent))
    out += "lane " + std::to_string(c->lane) + " (thread " + tidText(c->tid) + ") did not arrive, " + itText(*c) + ". ";
  out += "Lanes arrived: " + laneText(arrived);
  for (const auto& g : missing) {
    unsigned m = 0;
    for (unsigned lane : g.second) m |= 1u << lane;
    out += "; " + g.first + ": lane" + (g.second.size() > 1 ? "s " : " ") + laneText(m);
  }
  return out + ". Every lane named in the mask must reach the same call.";
}

inline std::string BlockRunner::warpMismatchReport(const Fiber& self, const Rendezvous& r, const Site& site,
                                                   int width) const {
  std::string out = "warp " + std::to_string(self.warp) + ": lanes of mask " + maskText(r.mask) +
                    " reached different warp operations: lanes " + laneText(r.arrived) + " are at " + siteText(r.site);
  if (isShuffle(r.op)) out += " (width " + std::to_string(r.width) + ")";
  out += ", lane " + std::to_string(self.lane) + " (thread " + tidText(self.tid) + ") is at " + siteText(site);
  if (isShuffle(r.op) && width != r.width) out += " (width " + std::to_string(width) + ")";
  return out + ". Every lane named in the mask must reach the same call.";
}

inline std::string BlockRunner::noProgressReport() const {
  std::string out = "deadlock, no thread can make progress.";
  if (barArrived_ > 0) out += " " + barrierReport(barSite_, nullptr);
  for (unsigned w = 0; w < warps_.size(); ++w)
    for (unsigned u = warps_[w].pendingUsed; u != 0; u &= u - 1)
      out += " " + warpReport(w, warps_[w].pending[__builtin_ctz(u)], nullptr);
  return out;
}

inline std::string BlockRunner::misuse(const Site& site, const std::string& what) const {
  return where() + " thread " + tidText(current_->tid) + ": " + siteText(site) + ": " + what;
}

}  // namespace kvf::emu::detail
