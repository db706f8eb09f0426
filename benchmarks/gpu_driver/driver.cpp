/* ----------------------------------------------------------------------
   m3gnet_driver: the plugin's LAMMPS-free model wrapper (plugin/m3gnet_model.*) on an extxyz file

   m3gnet_driver MODEL.pt STRUCTURES.extxyz [--device cpu|cuda] [--repeat N] [--elements El1,El2,...]
                 [--compiled auto|yes|no]

   For every frame: builds the periodic graph (cell list, all images within the model cutoff),
   evaluates energy and forces (F_src += g, F_dst -= g from dE/d(edge vector)) N times, and prints
   one JSON object per line: name, n_atoms, n_edges, device, compiled (whether the file's AOTInductor
   package ran; --compiled as pair_style m3gnet's keyword), energy_eV, forces_eV_A, ms (best), ms_first.
   The engine line of the plugin's log goes to stderr.
   Used by benchmarks/gpu_check.sh; no LAMMPS needed.
------------------------------------------------------------------------- */

#include "m3gnet_model.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Frame {
  std::string name;
  std::array<double, 9> cell{};    // rows = lattice vectors (A)
  std::vector<std::string> symbols;
  std::vector<double> pos;         // (3 n) A
};

// value of key="..." or key=... in an extxyz comment line
std::string comment_value(const std::string &line, const std::string &key)
{
  size_t p = 0;
  while ((p = line.find(key + "=", p)) != std::string::npos) {
    if (p == 0 || line[p - 1] == ' ') break;
    p += key.size();
  }
  if (p == std::string::npos) return "";
  p += key.size() + 1;
  if (line[p] == '"') {
    size_t e = line.find('"', p + 1);
    return line.substr(p + 1, e - p - 1);
  }
  size_t e = line.find(' ', p);
  return line.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

std::vector<Frame> read_extxyz(const std::string &path)
{
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<Frame> frames;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const int n = std::stoi(line);
    Frame f;
    std::getline(in, line);
    std::istringstream lat(comment_value(line, "Lattice"));
    for (auto &c : f.cell) lat >> c;
    f.name = comment_value(line, "name");
    // Properties=species:S:1:pos:R:3:...: column of species and of pos
    std::istringstream props(comment_value(line, "Properties"));
    std::string name, type, count;
    int col = 0, col_species = 0, col_pos = 1;
    while (std::getline(props, name, ':') && std::getline(props, type, ':') && std::getline(props, count, ':')) {
      if (name == "species") col_species = col;
      if (name == "pos") col_pos = col;
      col += std::stoi(count);
    }
    for (int i = 0; i < n; i++) {
      std::getline(in, line);
      std::istringstream row(line);
      std::vector<std::string> tok;
      for (std::string t; row >> t;) tok.push_back(t);
      f.symbols.push_back(tok.at(col_species));
      for (int k = 0; k < 3; k++) f.pos.push_back(std::stod(tok.at(col_pos + k)));
    }
    if (f.name.empty()) f.name = "frame" + std::to_string(frames.size());
    frames.push_back(f);
  }
  return frames;
}

std::array<double, 9> inverse(const std::array<double, 9> &m)
{
  const double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
      m[2] * (m[3] * m[7] - m[4] * m[6]);
  if (std::abs(det) < 1e-12) throw std::runtime_error("singular cell (periodic cells only)");
  return {(m[4] * m[8] - m[5] * m[7]) / det, (m[2] * m[7] - m[1] * m[8]) / det, (m[1] * m[5] - m[2] * m[4]) / det,
          (m[5] * m[6] - m[3] * m[8]) / det, (m[0] * m[8] - m[2] * m[6]) / det, (m[2] * m[3] - m[0] * m[5]) / det,
          (m[3] * m[7] - m[4] * m[6]) / det, (m[1] * m[6] - m[0] * m[7]) / det, (m[0] * m[4] - m[1] * m[3]) / det};
}

// periodic graph with a cell list in fractional coordinates; edges sorted by source
void build_graph(const Frame &f, double cutoff_A, m3gnet::GraphInput &g)
{
  const int n = static_cast<int>(f.symbols.size());
  const auto inv = inverse(f.cell);    // frac = pos . inv (cell rows = lattice vectors)
  std::vector<double> frac(3 * n), wrapped(3 * n);
  for (int i = 0; i < n; i++)
    for (int a = 0; a < 3; a++) {
      double s = 0;
      for (int k = 0; k < 3; k++) s += f.pos[3 * i + k] * inv[3 * k + a];
      frac[3 * i + a] = s - std::floor(s);
    }
  for (int i = 0; i < n; i++)
    for (int k = 0; k < 3; k++) {
      double s = 0;
      for (int a = 0; a < 3; a++) s += frac[3 * i + a] * f.cell[3 * a + k];
      wrapped[3 * i + k] = s;
    }
  int nb[3], reach[3];
  for (int a = 0; a < 3; a++) {
    const double recip = std::sqrt(inv[a] * inv[a] + inv[3 + a] * inv[3 + a] + inv[6 + a] * inv[6 + a]);
    const double spacing = 1.0 / recip;    // distance between lattice planes a
    nb[a] = std::max(1, static_cast<int>(std::floor(spacing / cutoff_A)));
    reach[a] = static_cast<int>(std::ceil(cutoff_A * nb[a] / spacing));
  }
  const int nbins = nb[0] * nb[1] * nb[2];
  std::vector<std::vector<int>> bins(nbins);
  std::vector<std::array<int, 3>> bin_of(n);
  for (int i = 0; i < n; i++) {
    for (int a = 0; a < 3; a++) bin_of[i][a] = std::min(nb[a] - 1, static_cast<int>(frac[3 * i + a] * nb[a]));
    bins[(bin_of[i][0] * nb[1] + bin_of[i][1]) * nb[2] + bin_of[i][2]].push_back(i);
  }
  const double rc2 = cutoff_A * cutoff_A;
  std::vector<int64_t> src, dst;
  g.edge_vec.clear();
  for (int i = 0; i < n; i++) {
    for (int oa = -reach[0]; oa <= reach[0]; oa++)
      for (int ob = -reach[1]; ob <= reach[1]; ob++)
        for (int oc = -reach[2]; oc <= reach[2]; oc++) {
          const int t[3] = {bin_of[i][0] + oa, bin_of[i][1] + ob, bin_of[i][2] + oc};
          int w[3], s[3];
          for (int a = 0; a < 3; a++) {
            s[a] = static_cast<int>(std::floor(static_cast<double>(t[a]) / nb[a]));
            w[a] = t[a] - s[a] * nb[a];
          }
          double shift[3];
          for (int k = 0; k < 3; k++) shift[k] = s[0] * f.cell[k] + s[1] * f.cell[3 + k] + s[2] * f.cell[6 + k];
          for (int j : bins[(w[0] * nb[1] + w[1]) * nb[2] + w[2]]) {
            if (j == i && s[0] == 0 && s[1] == 0 && s[2] == 0) continue;
            const double v[3] = {wrapped[3 * j] + shift[0] - wrapped[3 * i],
                                 wrapped[3 * j + 1] + shift[1] - wrapped[3 * i + 1],
                                 wrapped[3 * j + 2] + shift[2] - wrapped[3 * i + 2]};
            if (v[0] * v[0] + v[1] * v[1] + v[2] * v[2] >= rc2) continue;
            src.push_back(i);
            dst.push_back(j);
            g.edge_vec.insert(g.edge_vec.end(), v, v + 3);
          }
        }
  }
  g.edge_index = src;
  g.edge_index.insert(g.edge_index.end(), dst.begin(), dst.end());
}

void print_json(const Frame &f, const m3gnet::GraphInput &g, const m3gnet::GraphOutput &out, double ms_best,
                double ms_first, const m3gnet::Model &model)
{
  const size_t n = f.symbols.size();
  const size_t n_edges = g.edge_vec.size() / 3;
  std::vector<double> forces(3 * n, 0.0);
  for (size_t e = 0; e < n_edges; e++)
    for (int k = 0; k < 3; k++) {
      forces[3 * g.edge_index[e] + k] += out.edge_grad[3 * e + k];
      forces[3 * g.edge_index[n_edges + e] + k] -= out.edge_grad[3 * e + k];
    }
  std::ostringstream js;
  js.precision(17);
  js << "{\"name\": \"" << f.name << "\", \"n_atoms\": " << n << ", \"n_edges\": " << n_edges
     << ", \"device\": \"" << model.device_name() << "\", \"compiled\": " << (model.uses_compiled() ? "true" : "false")
     << ", \"energy_eV\": " << out.energy << ", \"ms\": " << ms_best
     << ", \"ms_first\": " << ms_first << ", \"forces_eV_A\": [";
  for (size_t i = 0; i < 3 * n; i++) js << (i ? ", " : "") << forces[i];
  js << "]}";
  std::cout << js.str() << std::endl;
}

}    // namespace

int main(int argc, char **argv)
{
  if (argc < 3) {
    std::cerr << "usage: m3gnet_driver MODEL.pt STRUCTURES.extxyz [--device cpu|cuda] [--repeat N] "
                 "[--elements El1,El2,...] [--compiled auto|yes|no]\n";
    return 2;
  }
  std::string device, elements_arg, compiled = "auto";
  int repeat = 3;
  for (int k = 3; k + 1 < argc; k += 2) {
    std::string key = argv[k];
    if (key == "--device") device = argv[k + 1];
    else if (key == "--repeat") repeat = std::max(1, std::stoi(argv[k + 1]));
    else if (key == "--elements") elements_arg = argv[k + 1];
    else if (key == "--compiled") compiled = argv[k + 1];
    else {
      std::cerr << "unknown option " << key << "\n";
      return 2;
    }
  }
  if (compiled != "auto" && compiled != "yes" && compiled != "no") {
    std::cerr << "--compiled " << compiled << ": use auto, yes or no\n";
    return 2;
  }
  const auto use = compiled == "yes" ? m3gnet::CompiledUse::YES
      : compiled == "no"             ? m3gnet::CompiledUse::NO
                                     : m3gnet::CompiledUse::AUTO;
  try {
    m3gnet::Model model(argv[1], device, use);
    std::cerr << "m3gnet_driver: engine " << model.engine_note() << "\n";
    const auto &meta = model.metadata();
    for (const auto &f : read_extxyz(argv[2])) {
      m3gnet::GraphInput g;
      for (const auto &s : f.symbols) {
        auto it = std::find(meta.elements.begin(), meta.elements.end(), s);
        if (it == meta.elements.end()) throw std::runtime_error("element " + s + " not in model " + meta.model_name);
        g.species.push_back(it - meta.elements.begin());
      }
      build_graph(f, meta.cutoff_A, g);
      m3gnet::GraphOutput out;
      double best = 1e30, first = 0.0;
      for (int r = 0; r < repeat; r++) {
        const auto t0 = std::chrono::steady_clock::now();
        model.compute(g, out);    // copies results to the host: synchronises the device
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (r == 0) first = ms;
        best = std::min(best, ms);
      }
      out.energy += meta.data_mean_eV;
      print_json(f, g, out, best, first, model);
    }
  } catch (std::exception &e) {
    std::cerr << "m3gnet_driver: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
