/* ----------------------------------------------------------------------
   m3gnet-lammps: pair_style m3gnet under MPI domain decomposition

   comm halo (default on several ranks): the graph holds owned atoms and ghosts (one cutoff wide);
   bonds start at owned atoms only. Per interaction block the node features of ghosts are filled
   from their owners (forward comm) and the node-update sums that bonds deposited on ghosts are
   added to their owners (reverse comm). The backward pass mirrors this: gradients w.r.t. ghost
   copies are summed into owners (reverse comm), gradients w.r.t. the sums are copied to ghosts
   (forward comm). Only stock Pair comm hooks are used, in doubles.

   comm shell: the whole graph of owned + ghost atoms (ghost neighbour lists included) in one
   evaluation, energies counted for owned atoms; the ghost cutoff is nblocks x (cutoff + 3-body
   cutoff), because a block carries information one bond plus one 3-body bond far.
------------------------------------------------------------------------- */

#include "pair_m3gnet.h"

#include "atom.h"
#include "comm.h"
#include "neigh_list.h"

using namespace LAMMPS_NS;

/* ----------------------------------------------------------------------
   graph over all local + ghost atoms (node id = LAMMPS index); bonds start at owned atoms
   (halo) or at every atom with a neighbour list (shell, REQ_GHOST)
------------------------------------------------------------------------- */

void PairM3GNet::build_graph_all_nodes(bool ghost_sources)
{
  const int nall = atom->nlocal + atom->nghost;
  graph.species.resize(nall);
  for (int i = 0; i < nall; i++) graph.species[i] = type_species[atom->type[i]];
  collect_bonds(ghost_sources ? list->inum + list->gnum : list->inum);
  set_edge_index(edge_j);
}

/* ----------------------------------------------------------------------
   forward (owner -> ghost copies, overwrite) or reverse (ghost -> owner, add) exchange of rows
------------------------------------------------------------------------- */

void PairM3GNet::exchange(std::vector<double> &rows, bool reverse)
{
  comm_rows = rows.data();
  if (reverse)
    comm->reverse_comm(this);
  else
    comm->forward_comm(this);
  comm_rows = nullptr;
}

/* ----------------------------------------------------------------------
   block-by-block evaluation with halo exchanges, forward and backward
------------------------------------------------------------------------- */

void PairM3GNet::compute_halo(m3gnet::GraphOutput &out)
{
  const int nlocal = atom->nlocal;
  const size_t nall = static_cast<size_t>(atom->nlocal + atom->nghost);
  const size_t width = static_cast<size_t>(feat_dim);
  const int nblocks = model->metadata().nblocks;

  // forward: ghost rows of the embedding are exact (species only)
  model->halo_begin(graph, nlocal, feat);
  for (int b = 0; b < nblocks; b++) {
    model->halo_block(b, feat, sums);
    exchange(sums, true);    // owners collect the sums deposited on their ghost copies
    for (size_t k = 0; k < nlocal * width; k++) feat[k] += sums[k];
    exchange(feat, false);    // ghosts take their owners' new features
  }
  model->halo_readout(feat, out, grad_feat);    // dE/dX of the last features (ghost rows 0)

  // backward
  for (int b = nblocks - 1; b >= 0; b--) {
    exchange(grad_feat, true);     // dE/dX(owner) += dE/dX(ghost copies)
    exchange(grad_feat, false);    // dE/d(sums) of a ghost = dE/dX of its owner
    model->halo_block_backward(b, grad_feat, grad_x);
    for (size_t k = 0; k < nlocal * width; k++) grad_feat[k] += grad_x[k];
    for (size_t k = nlocal * width; k < nall * width; k++) grad_feat[k] = grad_x[k];
  }
  model->halo_end(out);
}

/* ---------------------------------------------------------------------- */

int PairM3GNet::pack_forward_comm(int n, int *list_send, double *buf, int /*pbc_flag*/, int * /*pbc*/)
{
  int m = 0;
  for (int i = 0; i < n; i++) {
    const double *row = comm_rows + static_cast<size_t>(list_send[i]) * feat_dim;
    for (int k = 0; k < feat_dim; k++) buf[m++] = row[k];
  }
  return m;
}

/* ---------------------------------------------------------------------- */

void PairM3GNet::unpack_forward_comm(int n, int first, double *buf)
{
  int m = 0;
  for (int i = first; i < first + n; i++) {
    double *row = comm_rows + static_cast<size_t>(i) * feat_dim;
    for (int k = 0; k < feat_dim; k++) row[k] = buf[m++];
  }
}

/* ---------------------------------------------------------------------- */

int PairM3GNet::pack_reverse_comm(int n, int first, double *buf)
{
  int m = 0;
  for (int i = first; i < first + n; i++) {
    const double *row = comm_rows + static_cast<size_t>(i) * feat_dim;
    for (int k = 0; k < feat_dim; k++) buf[m++] = row[k];
  }
  return m;
}

/* ---------------------------------------------------------------------- */

void PairM3GNet::unpack_reverse_comm(int n, int *list_recv, double *buf)
{
  int m = 0;
  for (int i = 0; i < n; i++) {
    double *row = comm_rows + static_cast<size_t>(list_recv[i]) * feat_dim;
    for (int k = 0; k < feat_dim; k++) row[k] += buf[m++];
  }
}
