"""Cache-resident per-bond work, measured: a chunked gated edge MLP (C++) against the model's torch ops.

    .venv/bin/python benchmarks/bench_chunked_mlp.py [--chunks 128 256 512] [--store-chunks 256 512] \
        [--repeats 9] [--steps 7] [--json benchmarks/results/chunked_mlp_onbh512_float32.json]

One torch thread, the 512-atom o-NBH cell (``oNBH_bh4_slabs_r2`` x 2x1x2, 25,400 bonds, 64 features),
the NaBH checkpoint in float32 (timings) and float64 (parity), tcmalloc preloaded as in LAMMPS runs
(``--malloc glibc`` to compare). Four parts, all in one process:

1. ``profile``: ``torch.profiler`` of the eager model's energy + dE/d(bond vectors) call (the ops of the
   TorchScript file): time per model region (the per-bond gated MLPs of the graph convolution; the
   bond-wise products with the radial basis, the residual and the message sum; the three-body bond MLP,
   the rest of the three-body update and its geometry; the rest), each with the backward of its ops
   (matched by autograd sequence number), and per kind of op (matrix products, scatters, gathers,
   elementwise). Each op's time is its minimum over ``--steps`` profiled calls (the profiler reads
   wall-clock time, which a busy machine inflates at random).
2. ``parity``: the chunked graph convolution of block 0 (edge update, node update and its sum over bonds)
   against the model's ``InteractionBlock`` ops (outputs and input gradients), and the whole call with
   every block patched, float64 and float32.
3. ``ops``: CPU time of block 0's graph convolution, forward + input-gradient backward: model ops, the
   same ops traced into one forward + backward graph and compiled by Inductor (as the exported compiled
   package is), and the chunked operator per chunk size and per kind of kept values; alternated
   (A B C ..., then reversed), Python's GC off; median, min and max.
4. ``step``: the whole energy + gradient call: eager model, TorchScript, the compiled package (from the
   package cache; compiled there on a miss), and the eager model with every block's graph convolution
   through the chunked operator (patched in this process only), alternated.

The chunked operator (C++ source below, built with ``torch.utils.cpp_extension.load`` into a temporary
folder, about a minute the first time): for each chunk of bonds, the gated MLP on cat([v_src, v_dst, e])
(first layer split into node projections gathered per bond plus an edge product) times ``rbf W_r^T``,
then ``e +`` that (edge update) or its sum at the bond's destination (node update). The chunk's
intermediates live in a per-thread scratch buffer; sums over bonds go into per-thread partial sums (no
atomics; summed in thread order). The backward either recomputes each chunk's forward (``recompute``),
or reads the per-bond pre-activations (``keep z``) or activation derivatives and last activations
(``keep f'(z)``, no exponential in the backward) that the forward wrote. Products call MKL's sgemm on
(chunk x 64) x (64 x 64) blocks; SiLU and sigmoid use ATen's vectorised exp.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pydriver.lammps.plugin_path import with_torch_preloaded  # noqa: E402
from pydriver.m3gnet.export import build_model  # noqa: E402
from pydriver.m3gnet.neighbors import edge_list  # noqa: E402

MODELS = Path(os.environ.get("M3GNET_MODELS_DIR", ROOT.parent / "shared" / "models"))
CHECKPOINT = MODELS / "M3GNet-r2SCAN-NaBH"
STRUCTURE = ROOT / "examples" / "structures" / "onbh_orderings" / "oNBH_bh4_slabs_r2.extxyz"
REPEAT = [2, 1, 2]  # supercell of STRUCTURE (--repeat)
REEXEC_FLAG = "PYDRIVER_BENCH_PRELOADED"
SAVE_NAMES = ("recompute", "keep z", "keep f'(z)")  # what the backward of ChunkedGatedEdge starts from

CPP_SOURCE = r"""
// Chunked gated edge MLP (matgl GatedMLP on cat([v_src, v_dst, e]), split first layer), forward and
// input-gradient backward over chunks of bonds; the inner pre-activations of a chunk live in a
// per-thread scratch buffer (recomputed in the backward), sums over bonds go to per-thread partials.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>
#include <vector>

extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*,
            const float*, const int*, const float*, float*, const int*);
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*, const double*,
            const int*, const double*, const int*, const double*, double*, const int*);
}

namespace {

template <typename T>
void gemm_cm(char ta, char tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta, T* c,
             int ldc);
template <>
void gemm_cm<float>(char ta, char tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                    int ldb, float beta, float* c, int ldc) {
  sgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}
template <>
void gemm_cm<double>(char ta, char tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b,
                     int ldb, double beta, double* c, int ldc) {
  dgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

// Z (rows x out) = X (rows x in, leading dim ldx) W^T (W: out x in row-major) + beta Z
template <typename T>
inline void linear_rm(const T* x, int rows, int in, int ldx, const T* w, int out, T beta, T* z) {
  gemm_cm<T>('T', 'N', out, rows, in, T(1), w, in, x, ldx, beta, z, out);
}
// dX (rows x in, leading dim ldx) = dZ (rows x out) W (out x in) + beta dX
template <typename T>
inline void linear_bwd_rm(const T* dz, int rows, int out, const T* w, int in, T beta, T* dx, int ldx) {
  gemm_cm<T>('N', 'N', in, rows, out, T(1), w, in, dz, out, beta, dx, ldx);
}

using at::vec::Vectorized;

// z[r, :] += bias; act[r, :] = f(z) with f = silu (kind 0), sigmoid (1), identity (2); deriv (if given) = f'(z)
template <typename T>
void bias_act(T* z, const T* bias, T* act, int rows, int h, int kind, T* deriv = nullptr) {
  using V = Vectorized<T>;
  const V one(T(1));
  for (int r = 0; r < rows; ++r) {
    T* zr = z + (int64_t)r * h;
    T* ar = act + (int64_t)r * h;
    int j = 0;
    for (; j + V::size() <= h; j += V::size()) {
      V x = V::loadu(zr + j);
      if (bias) {
        x = x + V::loadu(bias + j);
        x.store(zr + j);
      }
      if (kind == 2) { x.store(ar + j); continue; }
      V s = one / (one + x.neg().exp());
      (kind == 0 ? x * s : s).store(ar + j);
      if (deriv) (kind == 0 ? s * (one + x * (one - s)) : s * (one - s)).store(deriv + (int64_t)r * h + j);
    }
    for (; j < h; ++j) {
      T x = zr[j] + (bias ? bias[j] : T(0));
      if (bias) zr[j] = x;
      T s = T(1) / (T(1) + std::exp(-x));
      ar[j] = kind == 0 ? x * s : (kind == 1 ? s : x);
      if (deriv && kind != 2) deriv[(int64_t)r * h + j] = kind == 0 ? s * (T(1) + x * (T(1) - s)) : s * (T(1) - s);
    }
  }
}

// d[i] *= f'(z[i]) for f as in bias_act (n elements)
template <typename T>
void act_grad(T* d, const T* z, int64_t n, int kind) {
  if (kind == 2) return;
  using V = Vectorized<T>;
  const V one(T(1));
  int64_t i = 0;
  for (; i + V::size() <= n; i += V::size()) {
    V x = V::loadu(z + i);
    V s = one / (one + x.neg().exp());
    V g = kind == 0 ? s * (one + x * (one - s)) : s * (one - s);
    (V::loadu(d + i) * g).store(d + i);
  }
  for (; i < n; ++i) {
    T s = T(1) / (T(1) + std::exp(-z[i]));
    d[i] *= kind == 0 ? s * (T(1) + z[i] * (T(1) - s)) : s * (T(1) - s);
  }
}

template <typename T>
inline T act_value(T x, int kind) {
  T s = T(1) / (T(1) + std::exp(-x));
  return kind == 0 ? x * s : (kind == 1 ? s : x);
}

struct Net {
  // per path p (0: layers "a", 1: gates "g"): edge weight of the first layer (H x F), node projections
  // at src and dst (N x H, bias included), then hidden weights W_l (H x H) and biases b_l (H)
  std::vector<torch::Tensor> edge_w, proj_src, proj_dst;
  std::vector<std::vector<torch::Tensor>> hid_w, hid_b;
  torch::Tensor rbf_w;  // (H x K): multiplier rbf W_r^T
  bool activate_last;
  int nlayers() const { return 1 + (int)hid_w[0].size(); }
  int kind(int p, int l) const {  // activation after layer l of path p
    bool last = l == nlayers() - 1;
    if (p == 1) return last ? 1 : 0;
    return (!last || activate_last) ? 0 : 2;
  }
};

// Forward of one chunk: fills z[p][l] (pre-activations, rows x H) and, where dv[p][l] is given, the
// activation's derivative there; returns a, g, r in the last buffers.
template <typename T>
void chunk_forward(const Net& net, const T* e, const T* rbf, const int64_t* src, const int64_t* dst, int64_t r0,
                   int rows, int H, int F, int K, std::vector<T*>& z, T* act, T* act2, T* a_out, T* g_out,
                   T* r_out, const std::vector<T*>& dv) {
  const int L = net.nlayers();
  for (int p = 0; p < 2; ++p) {
    const T* ps = net.proj_src[p].data_ptr<T>();
    const T* pd = net.proj_dst[p].data_ptr<T>();
    T* z0 = z[p * L];
    for (int i = 0; i < rows; ++i) {
      const T* a = ps + src[r0 + i] * H;
      const T* b = pd + dst[r0 + i] * H;
      T* o = z0 + (int64_t)i * H;
      for (int j = 0; j < H; ++j) o[j] = a[j] + b[j];
    }
    linear_rm<T>(e + r0 * F, rows, F, F, net.edge_w[p].data_ptr<T>(), H, T(1), z0);
    T* out_last = p == 0 ? a_out : g_out;
    bias_act<T>(z0, nullptr, L == 1 ? out_last : act, rows, H, net.kind(p, 0), dv[p * L]);
    for (int l = 1; l < L; ++l) {
      T* zl = z[p * L + l];
      linear_rm<T>(act, rows, H, H, net.hid_w[p][l - 1].data_ptr<T>(), H, T(0), zl);
      T* dst_act = l == L - 1 ? out_last : act2;
      bias_act<T>(zl, net.hid_b[p][l - 1].data_ptr<T>(), dst_act, rows, H, net.kind(p, l), dv[p * L + l]);
      std::swap(act, act2);
    }
  }
  linear_rm<T>(rbf + r0 * K, rows, K, K, net.rbf_w.data_ptr<T>(), H, T(0), r_out);
}

Net make_net(const std::vector<torch::Tensor>& edge_w, const std::vector<torch::Tensor>& proj_src,
             const std::vector<torch::Tensor>& proj_dst, const std::vector<torch::Tensor>& hid_w_a,
             const std::vector<torch::Tensor>& hid_b_a, const std::vector<torch::Tensor>& hid_w_g,
             const std::vector<torch::Tensor>& hid_b_g, const torch::Tensor& rbf_w, bool activate_last) {
  Net n;
  for (auto& t : edge_w) n.edge_w.push_back(t.contiguous());
  for (auto& t : proj_src) n.proj_src.push_back(t.contiguous());
  for (auto& t : proj_dst) n.proj_dst.push_back(t.contiguous());
  n.hid_w = {{}, {}};
  n.hid_b = {{}, {}};
  for (auto& t : hid_w_a) n.hid_w[0].push_back(t.contiguous());
  for (auto& t : hid_b_a) n.hid_b[0].push_back(t.contiguous());
  for (auto& t : hid_w_g) n.hid_w[1].push_back(t.contiguous());
  for (auto& t : hid_b_g) n.hid_b[1].push_back(t.contiguous());
  n.rbf_w = rbf_w.contiguous();
  n.activate_last = activate_last;
  return n;
}

struct Scratch {
  int64_t per;  // elements of one (chunk x H) buffer
  int nbuf;
  torch::Tensor mem;  // (threads, nbuf, chunk * H)
};

}  // namespace

// mode 0: returns e + a*g*r (E x H, needs F == H); mode 1: returns sums over dst of a*g*r (N x H).
std::vector<torch::Tensor> gated_edge_forward(torch::Tensor e, torch::Tensor rbf, torch::Tensor src, torch::Tensor dst,
                                 std::vector<torch::Tensor> edge_w, std::vector<torch::Tensor> proj_src,
                                 std::vector<torch::Tensor> proj_dst, std::vector<torch::Tensor> hid_w_a,
                                 std::vector<torch::Tensor> hid_b_a, std::vector<torch::Tensor> hid_w_g,
                                 std::vector<torch::Tensor> hid_b_g, torch::Tensor rbf_w, bool activate_last,
                                 int64_t mode, int64_t n_nodes, int64_t chunk, int64_t save) {
  Net net = make_net(edge_w, proj_src, proj_dst, hid_w_a, hid_b_a, hid_w_g, hid_b_g, rbf_w, activate_last);
  e = e.contiguous();
  rbf = rbf.contiguous();
  src = src.contiguous();
  dst = dst.contiguous();
  const int64_t E = e.size(0);
  const int F = e.size(1), K = rbf.size(1), H = net.edge_w[0].size(0);
  const int L = net.nlayers();
  const int64_t nchunks = (E + chunk - 1) / chunk;
  const int nthreads = at::get_num_threads();
  torch::Tensor out = mode == 0 ? torch::empty({E, H}, e.options()) : torch::zeros({n_nodes, H}, e.options());
  torch::Tensor partial;
  if (mode == 1 && nthreads > 1) partial = torch::zeros({nthreads, n_nodes, H}, e.options());
  const int nbuf = 2 * L + 5;
  torch::Tensor mem = torch::empty({nthreads, nbuf, chunk * H}, e.options());
  // save 1: every pre-activation (2L, E, H); save 2: every activation derivative and the last a, g (2L + 2, E, H);
  // kept for the backward instead of recomputing them (save 0)
  const int nsaved = save == 1 ? 2 * L : (save == 2 ? 2 * L + 2 : 0);
  torch::Tensor saved = torch::empty({nsaved, nsaved ? E : 0, H}, e.options());
  AT_DISPATCH_FLOATING_TYPES(e.scalar_type(), "gated_edge_forward", [&] {
    using T = scalar_t;
    const T* ep = e.data_ptr<T>();
    const T* rp = rbf.data_ptr<T>();
    const int64_t* sp = src.data_ptr<int64_t>();
    const int64_t* dp = dst.data_ptr<int64_t>();
    at::parallel_for(0, nchunks, 1, [&](int64_t c0, int64_t c1) {
      const int tid = at::get_thread_num();
      T* base = mem.data_ptr<T>() + (int64_t)tid * nbuf * chunk * H;
      std::vector<T*> z(2 * L);
      for (int b = 0; b < 2 * L; ++b) z[b] = base + (int64_t)b * chunk * H;
      T* act = base + (int64_t)(2 * L) * chunk * H;
      T* act2 = act + chunk * H;
      T* a = act2 + chunk * H;
      T* g = a + chunk * H;
      T* r = g + chunk * H;
      T* sums = mode == 1 ? (nthreads > 1 ? partial.data_ptr<T>() + (int64_t)tid * n_nodes * H : out.data_ptr<T>())
                          : nullptr;
      std::vector<T*> dv(2 * L, nullptr);
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t r0 = c * chunk;
        const int rows = (int)std::min<int64_t>(chunk, E - r0);
        T* slot = save ? saved.data_ptr<T>() + r0 * H : nullptr;
        if (save == 1) {
          for (int b = 0; b < 2 * L; ++b) z[b] = slot + (int64_t)b * E * H;
        } else if (save == 2) {
          for (int b = 0; b < 2 * L; ++b) dv[b] = slot + (int64_t)b * E * H;
          a = slot + (int64_t)(2 * L) * E * H;
          g = slot + (int64_t)(2 * L + 1) * E * H;
        }
        chunk_forward<T>(net, ep, rp, sp, dp, r0, rows, H, F, K, z, act, act2, a, g, r, dv);
        if (mode == 0) {
          T* o = out.data_ptr<T>() + r0 * H;
          const T* ein = ep + r0 * F;
          for (int64_t i = 0; i < (int64_t)rows * H; ++i) o[i] = ein[i] + a[i] * g[i] * r[i];
        } else {
          for (int i = 0; i < rows; ++i) {
            T* o = sums + dp[r0 + i] * H;
            const int64_t q = (int64_t)i * H;
            for (int j = 0; j < H; ++j) o[j] += a[q + j] * g[q + j] * r[q + j];
          }
        }
      }
    });
    if (mode == 1 && nthreads > 1) out.copy_(partial.sum(0));  // fixed order over threads
  });
  return {out, saved};
}

// Input gradients of gated_edge_forward: [d e, d rbf, d proj_src_a, d proj_dst_a, d proj_src_g, d proj_dst_g].
std::vector<torch::Tensor> gated_edge_backward(torch::Tensor grad, torch::Tensor e, torch::Tensor rbf,
                                               torch::Tensor src, torch::Tensor dst,
                                               std::vector<torch::Tensor> edge_w, std::vector<torch::Tensor> proj_src,
                                               std::vector<torch::Tensor> proj_dst,
                                               std::vector<torch::Tensor> hid_w_a, std::vector<torch::Tensor> hid_b_a,
                                               std::vector<torch::Tensor> hid_w_g, std::vector<torch::Tensor> hid_b_g,
                                               torch::Tensor rbf_w, bool activate_last, int64_t mode, int64_t chunk,
                                               torch::Tensor saved, int64_t save) {
  Net net = make_net(edge_w, proj_src, proj_dst, hid_w_a, hid_b_a, hid_w_g, hid_b_g, rbf_w, activate_last);
  grad = grad.contiguous();
  e = e.contiguous();
  rbf = rbf.contiguous();
  src = src.contiguous();
  dst = dst.contiguous();
  const int64_t E = e.size(0);
  const int64_t N = net.proj_src[0].size(0);
  const int F = e.size(1), K = rbf.size(1), H = net.edge_w[0].size(0);
  const int L = net.nlayers();
  const int64_t nchunks = (E + chunk - 1) / chunk;
  const int nthreads = at::get_num_threads();
  torch::Tensor d_e = torch::empty({E, F}, e.options());
  torch::Tensor d_rbf = torch::empty({E, K}, e.options());
  torch::Tensor d_proj = torch::zeros({nthreads, 4, N, H}, e.options());  // per-thread partials
  const int nbuf = 2 * L + 6;
  torch::Tensor mem = torch::empty({nthreads, nbuf, chunk * H}, e.options());
  AT_DISPATCH_FLOATING_TYPES(e.scalar_type(), "gated_edge_backward", [&] {
    using T = scalar_t;
    const T* ep = e.data_ptr<T>();
    const T* rp = rbf.data_ptr<T>();
    const T* gp = grad.data_ptr<T>();
    const int64_t* sp = src.data_ptr<int64_t>();
    const int64_t* dp = dst.data_ptr<int64_t>();
    at::parallel_for(0, nchunks, 1, [&](int64_t c0, int64_t c1) {
      const int tid = at::get_thread_num();
      T* base = mem.data_ptr<T>() + (int64_t)tid * nbuf * chunk * H;
      std::vector<T*> z(2 * L);
      for (int b = 0; b < 2 * L; ++b) z[b] = base + (int64_t)b * chunk * H;
      T* act = base + (int64_t)(2 * L) * chunk * H;
      T* act2 = act + chunk * H;
      T* a = act2 + chunk * H;
      T* g = a + chunk * H;
      T* r = g + chunk * H;
      T* go = r + chunk * H;
      T* dpr = d_proj.data_ptr<T>() + (int64_t)tid * 4 * N * H;
      const std::vector<T*> no_dv(2 * L, nullptr);
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t r0 = c * chunk;
        const int rows = (int)std::min<int64_t>(chunk, E - r0);
        const int64_t n = (int64_t)rows * H;
        const T* av = a;  // the last activations of the two paths
        const T* gv = g;
        T* slot = save ? saved.data_ptr<T>() + r0 * H : nullptr;
        if (save == 1) {  // pre-activations from the forward; a, g and r from them
          for (int b = 0; b < 2 * L; ++b) z[b] = slot + (int64_t)b * E * H;
          bias_act<T>(z[L - 1], nullptr, a, rows, H, net.kind(0, L - 1));
          bias_act<T>(z[2 * L - 1], nullptr, g, rows, H, net.kind(1, L - 1));
          linear_rm<T>(rp + r0 * K, rows, K, K, net.rbf_w.data_ptr<T>(), H, T(0), r);
        } else if (save == 2) {  // derivatives and a, g from the forward; r recomputed
          av = slot + (int64_t)(2 * L) * E * H;
          gv = slot + (int64_t)(2 * L + 1) * E * H;
          linear_rm<T>(rp + r0 * K, rows, K, K, net.rbf_w.data_ptr<T>(), H, T(0), r);
        } else {
          chunk_forward<T>(net, ep, rp, sp, dp, r0, rows, H, F, K, z, act, act2, a, g, r, no_dv);
        }
        if (mode == 0) {
          std::copy(gp + r0 * H, gp + r0 * H + n, go);
        } else {
          for (int i = 0; i < rows; ++i) std::copy(gp + dp[r0 + i] * H, gp + dp[r0 + i] * H + H, go + (int64_t)i * H);
        }
        // out = a g r: da -> act, dg -> act2, dr -> go (in place)
        for (int64_t i = 0; i < n; ++i) {
          const T o = go[i];
          act[i] = o * gv[i] * r[i];
          act2[i] = o * av[i] * r[i];
          go[i] = o * av[i] * gv[i];
        }
        linear_bwd_rm<T>(go, rows, H, net.rbf_w.data_ptr<T>(), K, T(0), d_rbf.data_ptr<T>() + r0 * K, K);
        T* d[2] = {act, act2};
        for (int p = 0; p < 2; ++p) {
          T* dcur = d[p];
          T* dnext = p == 0 ? a : g;  // a, g no longer needed
          for (int l = L - 1; l >= 0; --l) {
            if (save == 2) {
              if (net.kind(p, l) != 2) {
                const T* dvl = slot + (int64_t)(p * L + l) * E * H;
                for (int64_t i = 0; i < n; ++i) dcur[i] *= dvl[i];
              }
            } else {
              act_grad<T>(dcur, z[p * L + l], n, net.kind(p, l));
            }
            if (l > 0) {
              linear_bwd_rm<T>(dcur, rows, H, net.hid_w[p][l - 1].data_ptr<T>(), H, T(0), dnext, H);
              std::swap(dcur, dnext);
            }
          }
          d[p] = dcur;  // gradient of the first pre-activation
          T* ds = dpr + (int64_t)(2 * p) * N * H;
          T* dd = dpr + (int64_t)(2 * p + 1) * N * H;
          for (int i = 0; i < rows; ++i) {
            const T* q = dcur + (int64_t)i * H;
            T* s = ds + sp[r0 + i] * H;
            T* t = dd + dp[r0 + i] * H;
            for (int j = 0; j < H; ++j) {
              s[j] += q[j];
              t[j] += q[j];
            }
          }
        }
        T* de = d_e.data_ptr<T>() + r0 * F;
        linear_bwd_rm<T>(d[0], rows, H, net.edge_w[0].data_ptr<T>(), F, T(0), de, F);
        linear_bwd_rm<T>(d[1], rows, H, net.edge_w[1].data_ptr<T>(), F, T(1), de, F);
        if (mode == 0) {
          for (int64_t i = 0; i < (int64_t)rows * F; ++i) de[i] += gp[r0 * H + i];
        }
      }
    });
  });
  torch::Tensor dp_all = nthreads > 1 ? d_proj.sum(0) : d_proj[0];
  return {d_e, d_rbf, dp_all[0], dp_all[1], dp_all[2], dp_all[3]};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &gated_edge_forward);
  m.def("backward", &gated_edge_backward);
}
"""


def build_extension(verbose: bool = False):  # noqa: ANN201
    """The chunked operator's module, compiled (about a minute the first time) into a temporary folder."""
    from torch.utils.cpp_extension import load  # noqa: PLC0415 (build tools only needed here)

    folder = Path(tempfile.gettempdir()) / "pydriver_bench_chunked_mlp"
    folder.mkdir(exist_ok=True)
    source = folder / "chunked_mlp.cpp"
    if not source.exists() or source.read_text() != CPP_SOURCE:
        source.write_text(CPP_SOURCE)
    capability = torch.backends.cpu.get_cpu_capability()  # ATen's vector width for Vectorized<T>
    vec = ([f"-DCPU_CAPABILITY={capability}", f"-DCPU_CAPABILITY_{capability}"]
           if capability in ("AVX512", "AVX2") else [])
    return load(name="pydriver_bench_chunked_mlp", sources=[str(source)], build_directory=str(folder),
                extra_cflags=["-O3", "-march=native", *vec], verbose=verbose)


class ChunkedGatedEdge(torch.autograd.Function):
    """``e + gated(v, e) * (rbf W_r^T)`` (mode 0) or its sum at ``dst`` (mode 1) over bond chunks.

    ``save``: 0 recomputes each chunk's forward in the backward; 1 keeps the pre-activations of every bond
    (2 x layers x (E, H)); 2 keeps the activations' derivatives and the last activations of both paths
    ((2 x layers + 2) x (E, H)), so that the backward evaluates no exponential.
    """

    @staticmethod
    def forward(ctx, ext, stack, mode: int, n_nodes: int, chunk: int, save: int,  # noqa: ANN001, ANN205
                e, rbf, src, dst, pas, pad, pgs, pgd):
        out, saved = ext.forward(e, rbf, src, dst, stack["edge_w"], [pas, pgs], [pad, pgd], stack["hid_w_a"],
                                 stack["hid_b_a"], stack["hid_w_g"], stack["hid_b_g"], stack["rbf_w"],
                                 stack["activate_last"], mode, n_nodes, chunk, save)
        ctx.save_for_backward(e, rbf, src, dst, pas, pad, pgs, pgd, saved)
        ctx.ext, ctx.stack, ctx.mode, ctx.chunk, ctx.save = ext, stack, mode, chunk, save
        return out

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        e, rbf, src, dst, pas, pad, pgs, pgd, saved = ctx.saved_tensors
        s = ctx.stack
        d_e, d_rbf, d_pas, d_pad, d_pgs, d_pgd = ctx.ext.backward(
            grad, e, rbf, src, dst, s["edge_w"], [pas, pgs], [pad, pgd], s["hid_w_a"], s["hid_b_a"], s["hid_w_g"],
            s["hid_b_g"], s["rbf_w"], s["activate_last"], ctx.mode, ctx.chunk, saved, ctx.save)
        return None, None, None, None, None, None, d_e, d_rbf, None, None, d_pas, d_pad, d_pgs, d_pgd


def stack_weights(gated, rbf_linear) -> dict:  # noqa: ANN001
    """The operator's weight lists from a ``GatedEdgeStack`` and the Linear applied to the radial basis."""
    return {"edge_w": [gated.edge_a.weight.detach(), gated.edge_g.weight.detach()],
            "hid_w_a": [lin.weight.detach() for lin in gated.layers],
            "hid_b_a": [lin.bias.detach() for lin in gated.layers],
            "hid_w_g": [lin.weight.detach() for lin in gated.gates],
            "hid_b_g": [lin.bias.detach() for lin in gated.gates],
            "rbf_w": rbf_linear.weight.detach(), "activate_last": bool(gated.activate_last)}


def conv_reference(blk, v, e, rbf, src, dst):  # noqa: ANN001, ANN201
    """The model's graph convolution (``InteractionBlock.messages`` after the three-body update)."""
    e2 = torch.addcmul(e, blk.edge_update(v, e, src, dst), blk.edge_weight(rbf))
    msg = blk.node_update(v, e2, src, dst) * blk.node_weight(rbf)
    return e2, torch.zeros_like(v).index_add(0, dst, msg)


def conv_chunked(ext, blk, v, e, rbf, src, dst, chunk: int, save: int = 0):  # noqa: ANN001, ANN201
    """The same graph convolution through the chunked operator (``save``: see :class:`ChunkedGatedEdge`)."""
    stacks = blk.__dict__.setdefault("_bench_stacks", {})
    if not stacks:
        stacks["edge"] = stack_weights(blk.edge_update, blk.edge_weight)
        stacks["node"] = stack_weights(blk.node_update, blk.node_weight)
    n = v.shape[0]
    eu, nu = blk.edge_update, blk.node_update
    e2 = ChunkedGatedEdge.apply(ext, stacks["edge"], 0, n, chunk, save, e, rbf, src, dst,
                                eu.src_a(v), eu.dst_a(v), eu.src_g(v), eu.dst_g(v))
    sums = ChunkedGatedEdge.apply(ext, stacks["node"], 1, n, chunk, save, e2, rbf, src, dst,
                                  nu.src_a(v), nu.dst_a(v), nu.src_g(v), nu.dst_g(v))
    return e2, sums


def load_case(dtype: torch.dtype):  # noqa: ANN201
    """(eager model, species, edge_index, edge_vec) for the o-NBH cell (``REPEAT``: 512 atoms by default)."""
    import ase.io  # noqa: PLC0415

    atoms = ase.io.read(STRUCTURE).repeat(tuple(REPEAT))
    model, meta = build_model(CHECKPOINT, str(dtype).removeprefix("torch."))
    index = {el: i for i, el in enumerate(meta["elements"])}
    species = torch.tensor([index[s] for s in atoms.get_chemical_symbols()])
    ei, ev = edge_list(atoms, meta["cutoff_A"])
    return model, species, torch.from_numpy(ei), torch.tensor(ev, dtype=dtype)


def block_inputs(model, species, edge_index, edge_vec):  # noqa: ANN001, ANN201
    """Real inputs of block 0's graph convolution: node features, bond features after the 3-body update, rbf."""
    with torch.no_grad():
        dist = torch.linalg.norm(edge_vec, dim=1)
        tb = model.threebody(edge_index, edge_vec, dist, species.shape[0])
        rbf = model.radial(dist)
        v, e = model.embed(species, rbf)
        e = model.blocks[0].three_body(v, e, tb)
    return v, e, rbf


def energy_grad(model, species, edge_index, edge_vec):  # noqa: ANN001, ANN201
    """Per-atom energies (N,) eV and dE/d edge_vec (E, 3) eV/A of one call of ``model``."""
    x = edge_vec.clone().requires_grad_(True)
    energies = model(species, edge_index, x)
    (grad,) = torch.autograd.grad(energies.sum(), [x])
    return energies.detach(), grad


def patch_chunked(model, ext, chunk: int, save: int = 0):  # noqa: ANN001, ANN201
    """A copy of ``model`` whose blocks run the graph convolution through the chunked operator."""
    patched = copy.deepcopy(model)
    for blk in patched.blocks:
        def messages(node_feat, edge_feat, rbf, edge_index, tb, blk=blk):  # noqa: ANN001, ANN202
            edge_feat = blk.three_body(node_feat, edge_feat, tb)
            return conv_chunked(ext, blk, node_feat, edge_feat, rbf, edge_index[0], edge_index[1], chunk, save)
        blk.messages = messages
    return patched


# ------------------------------------------------------------------ profile
REGIONS = ("gated MLP (edge+node update)", "conv glue (rbf products, residual, message sum)",
           "three-body bond MLP", "three-body (rest)", "three-body geometry", "rest")


def label_model(model) -> None:  # noqa: ANN001
    """Wrap the model's parts in ``record_function`` ranges (this process only)."""
    def wrap(fn, label):  # noqa: ANN001, ANN202
        def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            with record_function("M3:" + label):
                return fn(*args, **kwargs)
        return call

    model.threebody = wrap(model.threebody, REGIONS[4])
    for blk in model.blocks:
        blk.messages = wrap(blk.messages, REGIONS[1])
        blk.three_body = wrap(blk.three_body, REGIONS[3])
        blk.bond_update.forward = wrap(blk.bond_update.forward, REGIONS[2])
        blk.edge_update.forward = wrap(blk.edge_update.forward, REGIONS[0])
        blk.node_update.forward = wrap(blk.node_update.forward, REGIONS[0])


def op_kind(event) -> str:  # noqa: ANN001
    """Kind of the innermost aten op that owns ``event`` (self time of wrappers goes to 'autograd/other')."""
    e = event
    while e is not None:
        n = e.name
        if n in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear"):
            return "matrix products"
        if n in ("aten::index_add", "aten::index_add_", "aten::scatter_add_", "aten::index_put_",
                 "aten::_index_put_impl_"):
            return "scatters (index_add)"
        if n in ("aten::index_select", "aten::gather", "aten::index", "aten::embedding"):
            return "gathers (index_select)"
        if n.startswith("aten::"):
            return "elementwise and other aten"
        e = e.cpu_parent
    return "autograd/other"


def profile_step(model, species, edge_index, edge_vec, steps: int) -> dict:
    """Self time per (region, op kind), forward and backward, of one call: each op's minimum over ``steps``
    profiled calls (the profiler's times are wall-clock; on a loaded machine a preempted op reads long, and
    the minimum over repeats of the same op removes that), plus the CPU time of unprofiled calls."""
    labelled = copy.deepcopy(model)
    label_model(labelled)
    for _ in range(2):
        energy_grad(labelled, species, edge_index, edge_vec)
    cpu_ms = []
    for _ in range(steps):
        t = time.thread_time()
        energy_grad(labelled, species, edge_index, edge_vec)
        cpu_ms.append(1000 * (time.thread_time() - t))
    runs = []
    for _ in range(steps):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            energy_grad(labelled, species, edge_index, edge_vec)
        runs.append(classify_events(prof.events()))
    if len({len(r) for r in runs}) != 1 or any([k for k, _ in r] != [k for k, _ in runs[0]] for r in runs):
        raise RuntimeError("profiled calls ran different op sequences; cannot match ops across calls")
    table: dict[str, dict[str, dict[str, float]]] = {}
    for i, (key, _) in enumerate(runs[0]):
        region, kind, direction = key
        ms = min(r[i][1] for r in runs)
        cell = table.setdefault(region, {}).setdefault(kind, {"forward_ms": 0.0, "backward_ms": 0.0})
        cell[direction] += ms
    total = sum(c["forward_ms"] + c["backward_ms"] for r in table.values() for c in r.values())
    return {"steps": steps, "cpu_ms_per_call_unprofiled": cpu_ms, "profiled_ms_per_call": total, "table": table}


def classify_events(events) -> list[tuple[tuple[str, str, str], float]]:  # noqa: ANN001
    """((region, op kind, forward_ms|backward_ms), self ms) of every op event, in the profiler's order."""
    seq_region: dict[int, str] = {}

    def region_of(event, fwd_only: bool = False) -> str | None:  # noqa: ANN001
        e = event
        while e is not None:
            if e.name.startswith("M3:"):
                return e.name[3:]
            if not fwd_only and e.name.startswith("autograd::engine::evaluate_function"):
                return seq_region.get(e.sequence_nr, REGIONS[-1])
            e = e.cpu_parent
        return None

    for ev in events:
        if ev.sequence_nr >= 0 and not ev.name.startswith("autograd::"):
            r = region_of(ev, fwd_only=True)
            if r is not None:
                seq_region.setdefault(ev.sequence_nr, r)
    out = []
    for ev in events:
        if ev.name.startswith("M3:"):
            continue
        in_bwd = False
        e = ev
        while e is not None:
            if e.name.startswith("autograd::engine::evaluate_function"):
                in_bwd = True
                break
            e = e.cpu_parent
        key = (region_of(ev) or REGIONS[-1], op_kind(ev), "backward_ms" if in_bwd else "forward_ms")
        out.append((key, ev.self_cpu_time_total / 1000.0))
    return out


def print_profile(prof: dict) -> None:
    total = prof["profiled_ms_per_call"]
    print(f"\nprofile: {total:.0f} ms per call (sum over ops of each op's minimum over {prof['steps']} profiled calls;"
          f" unprofiled CPU time {statistics.median(prof['cpu_ms_per_call_unprofiled']):.0f} ms median)")
    kinds: dict[str, float] = {}
    for region in REGIONS:
        cells = prof["table"].get(region, {})
        fwd = sum(c["forward_ms"] for c in cells.values())
        bwd = sum(c["backward_ms"] for c in cells.values())
        parts = ", ".join(f"{k} {c['forward_ms'] + c['backward_ms']:.0f}" for k, c in sorted(cells.items()))
        print(f"  {region:<50} {fwd + bwd:7.1f} ms {100 * (fwd + bwd) / total:5.1f} %  (fwd {fwd:.0f}, bwd {bwd:.0f};"
              f" {parts})")
        for k, c in cells.items():
            kinds[k] = kinds.get(k, 0.0) + c["forward_ms"] + c["backward_ms"]
    for k, ms in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"  kind {k:<45} {ms:7.1f} ms {100 * ms / total:5.1f} %")


# ------------------------------------------------------------------ parity and timing
def conv_case(ext, model, species, edge_index, edge_vec, chunk: int, save: int, seed: int = 0):  # noqa: ANN001, ANN201
    """Outputs and input gradients (v, e, rbf) of block 0's graph convolution, model ops and chunked."""
    v0, e0, rbf0 = block_inputs(model, species, edge_index, edge_vec)
    gen = torch.Generator().manual_seed(seed)
    g_e = torch.randn(e0.shape, generator=gen, dtype=torch.float64).to(e0.dtype)
    g_s = torch.randn(v0.shape, generator=gen, dtype=torch.float64).to(e0.dtype)
    src, dst = edge_index[0], edge_index[1]
    blk = model.blocks[0]

    def run(fn):  # noqa: ANN001, ANN202
        v, e, rbf = (t.clone().requires_grad_(True) for t in (v0, e0, rbf0))
        e2, sums = fn(v, e, rbf)
        grads = torch.autograd.grad([e2, sums], [v, e, rbf], [g_e, g_s])
        return [e2.detach(), sums.detach(), *grads]

    ref = run(lambda v, e, rbf: conv_reference(blk, v, e, rbf, src, dst))
    new = run(lambda v, e, rbf: conv_chunked(ext, blk, v, e, rbf, src, dst, chunk, save))
    return ref, new


def parity(ext, chunks: list[int]) -> dict:
    """Max |difference| / max |reference| of each output and gradient of block 0's graph convolution (every
    chunk size recomputing, the first chunk size with each kind of kept values), and the whole call's
    energies and gradient, float64 and float32."""
    names = ("e_new", "node_sums", "grad_v", "grad_e", "grad_rbf")
    out: dict = {}
    for dtype in (torch.float64, torch.float32):
        dt = str(dtype).removeprefix("torch.")
        case = load_case(dtype)
        for chunk, save in [(c, 0) for c in chunks] + [(chunks[0], 1), (chunks[0], 2)]:
            ref, new = conv_case(ext, *case, chunk, save)
            rel = {n: float((a - b).abs().max() / a.abs().max()) for n, a, b in zip(names, ref, new)}
            out[f"{dt} chunk {chunk} {SAVE_NAMES[save]}"] = rel
            print(f"parity {dt} chunk {chunk} {SAVE_NAMES[save]}: " + ", ".join(f"{k} {x:.1e}" for k, x in rel.items()))
        model, species, edge_index, edge_vec = case
        e_ref, g_ref = energy_grad(model, species, edge_index, edge_vec)
        for save in (0, 2):
            e_new, g_new = energy_grad(patch_chunked(model, ext, chunks[0], save), species, edge_index, edge_vec)
            step = {"energy_eV": float((e_ref.sum() - e_new.sum()).abs()),
                    "max_atom_energy_eV": float((e_ref - e_new).abs().max()),
                    "max_grad_eV_per_A": float((g_ref - g_new).abs().max()),
                    "max_abs_grad_eV_per_A": float(g_ref.abs().max())}
            out[f"{dt} whole call chunk {chunks[0]} {SAVE_NAMES[save]}"] = step
            print(f"parity {dt} whole call, chunk {chunks[0]} {SAVE_NAMES[save]}: |dE| {step['energy_eV']:.1e} eV "
                  f"(per atom {step['max_atom_energy_eV']:.1e}), max |d grad| {step['max_grad_eV_per_A']:.1e} eV/A "
                  f"(max |grad| {step['max_abs_grad_eV_per_A']:.1f})")
    return out


def alternate(calls: dict, repeats: int) -> dict:
    """CPU time (ms) of each call, alternated A B ... then reversed (ABBA), Python's GC off; median, min, max."""
    names = list(calls)
    times: dict[str, list[float]] = {n: [] for n in names}
    for n in names:  # warm-up
        calls[n]()
    gc.collect()
    gc.disable()
    try:
        for rep in range(repeats):
            for n in (names if rep % 2 == 0 else names[::-1]):
                t = time.thread_time()
                calls[n]()
                times[n].append(1000 * (time.thread_time() - t))
    finally:
        gc.enable()
    return {n: {"median_ms": statistics.median(ts), "min_ms": min(ts), "max_ms": max(ts), "all_ms": ts}
            for n, ts in times.items()}


def inductor_conv(blk, v0, e0, rbf0, g_e, g_s, src, dst):  # noqa: ANN001, ANN201
    """The model's graph convolution, forward + input-gradient backward traced into one graph and compiled by
    Inductor for this thread count, with the compiled engine's bias-after-product pass (as the exported
    energy + gradient package is built)."""
    from torch.fx.experimental.proxy_tensor import make_fx  # noqa: PLC0415 (compiler only needed here)

    from pydriver.m3gnet.compiled import _UnfuseBiasAddmm  # noqa: PLC0415

    def joint(v, e, rbf, ge, gs):  # noqa: ANN001, ANN202
        v, e, rbf = (t.detach().requires_grad_(True) for t in (v, e, rbf))
        with torch.enable_grad():
            e2, sums = conv_reference(blk, v, e, rbf, src, dst)
            grads = torch.autograd.grad([e2, sums], [v, e, rbf], [ge, gs])
        return (e2.detach(), sums.detach(), *grads)

    graph = make_fx(joint)(v0, e0, rbf0, g_e, g_s)
    with torch._inductor.config.patch({"post_grad_custom_post_pass": _UnfuseBiasAddmm()}):
        return torch._inductor.compile(graph, [v0, e0, rbf0, g_e, g_s])


def op_timing(ext, chunks: list[int], store_chunks: list[int], repeats: int, inductor: bool) -> dict:
    """Block 0's graph convolution, forward + backward, model ops vs the chunked operator (float32)."""
    model, species, edge_index, edge_vec = load_case(torch.float32)
    v0, e0, rbf0 = block_inputs(model, species, edge_index, edge_vec)
    src, dst = edge_index[0], edge_index[1]
    blk = model.blocks[0]
    g_e = torch.randn(e0.shape)
    g_s = torch.randn(v0.shape)

    def make(fn, backward: bool = True):  # noqa: ANN001, ANN202
        def call() -> None:
            v, e, rbf = (t.clone().requires_grad_(True) for t in (v0, e0, rbf0))
            e2, sums = fn(v, e, rbf)
            if backward:
                torch.autograd.grad([e2, sums], [v, e, rbf], [g_e, g_s])
        return call

    calls = {"model ops": make(lambda v, e, rbf: conv_reference(blk, v, e, rbf, src, dst))}
    if inductor:
        compiled = inductor_conv(blk, v0, e0, rbf0, g_e, g_s, src, dst)
        calls["Inductor graph"] = lambda: compiled(v0, e0, rbf0, g_e, g_s)
    for c in chunks:
        calls[f"chunked {c} {SAVE_NAMES[0]}"] = make(
            lambda v, e, rbf, c=c: conv_chunked(ext, blk, v, e, rbf, src, dst, c))
    for save in (1, 2):
        for c in store_chunks:
            calls[f"chunked {c} {SAVE_NAMES[save]}"] = make(
                lambda v, e, rbf, c=c, save=save: conv_chunked(ext, blk, v, e, rbf, src, dst, c, save))
    fwd_calls = {"model ops forward": make(lambda v, e, rbf: conv_reference(blk, v, e, rbf, src, dst), False)}
    for c in chunks:
        fwd_calls[f"chunked {c} forward"] = make(
            lambda v, e, rbf, c=c: conv_chunked(ext, blk, v, e, rbf, src, dst, c), False)
    res = alternate(calls, repeats)
    res.update(alternate(fwd_calls, repeats))
    base = res["model ops"]["median_ms"]
    print(f"\nblock graph convolution, {v0.shape[0]} atoms, {e0.shape[0]} bonds, CPU ms (median / min / max of "
          f"{repeats}, alternated; "
          "forward + backward unless named):")
    for n, r in res.items():
        ref = base if not n.endswith("forward") else res["model ops forward"]["median_ms"]
        print(f"  {n:<24} {r['median_ms']:7.1f} / {r['min_ms']:7.1f} / {r['max_ms']:7.1f}   "
              f"{ref / r['median_ms']:5.2f}x vs model ops", flush=True)
    return res


def step_timing(ext, chunk: int, repeats: int, compiled: bool) -> dict:
    """Whole energy + gradient call: unchanged eager model, TorchScript, the exported compiled package (from
    the package cache; compiled there on a miss, minutes) and the eager model with its graph convolutions
    through the chunked operator (recomputing and storing), float32, alternated."""
    model, species, edge_index, edge_vec = load_case(torch.float32)
    scripted = torch.jit.script(model)
    calls = {"eager model": lambda: energy_grad(model, species, edge_index, edge_vec),
             "TorchScript model": lambda: energy_grad(scripted, species, edge_index, edge_vec)}
    if compiled:
        from pydriver.m3gnet.compiled import load_package  # noqa: PLC0415 (inductor: heavy)
        from pydriver.m3gnet.package_cache import compiled_packages  # noqa: PLC0415

        package = load_package(compiled_packages(model, "cpu").energy_gradient)
        short = model.short_bonds(torch.linalg.norm(edge_vec, dim=1))
        ones = torch.ones(species.shape[0], dtype=edge_vec.dtype)
        calls["compiled package"] = lambda: package(species, edge_index, edge_vec, short, ones)
    for save in (0, 1, 2):
        patched = patch_chunked(model, ext, chunk, save)
        calls[f"eager, chunked conv {chunk} {SAVE_NAMES[save]}"] = (
            lambda patched=patched: energy_grad(patched, species, edge_index, edge_vec))
    calls["TorchScript model"]()  # profiling runs of the TorchScript executor
    res = alternate(calls, repeats)
    base = res["eager model"]["median_ms"]
    print(f"\nwhole energy + gradient call, CPU ms (median / min / max of {repeats}, alternated):")
    for n, r in res.items():
        print(f"  {n:<32} {r['median_ms']:7.1f} / {r['min_ms']:7.1f} / {r['max_ms']:7.1f}   "
              f"{base / r['median_ms']:5.2f}x vs eager", flush=True)
    return res


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, nargs="+", default=[64, 128, 256, 512], help="bonds per chunk")
    ap.add_argument("--store-chunks", type=int, nargs="*", default=[256],
                    help="chunk sizes of the variants that keep per-bond values for the backward")
    ap.add_argument("--no-compiled", action="store_true",
                    help="skip the compiled package in the whole-call timing (it comes from the package cache)")
    ap.add_argument("--no-inductor", action="store_true", help="skip the Inductor-compiled baseline")
    ap.add_argument("--repeats", type=int, default=9, help="alternated repeats per variant")
    ap.add_argument("--steps", type=int, default=5, help="profiled calls")
    ap.add_argument("--parts", nargs="+", default=["profile", "parity", "ops", "step"],
                    choices=["profile", "parity", "ops", "step"])
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--repeat", type=int, nargs=3, default=REPEAT, metavar=("NA", "NB", "NC"),
                    help="supercell of the 128-atom o-NBH cell (default 2 1 2: 512 atoms)")
    ap.add_argument("--malloc", choices=["tcmalloc", "glibc"], default="tcmalloc",
                    help="allocator: tcmalloc preloaded as in LAMMPS runs (default, where installed) or glibc's")
    a = ap.parse_args()
    if a.malloc == "tcmalloc" and os.environ.get(REEXEC_FLAG) != "1":  # the plugin's process environment
        env = with_torch_preloaded(dict(os.environ))
        env[REEXEC_FLAG] = "1"
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    REPEAT[:] = a.repeat
    torch.set_num_threads(1)
    ext = build_extension()
    result: dict = {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "threads": 1,
                    "cpu": cpu_model(), "cores": os.cpu_count(),
                    "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                    "load_average_start": os.getloadavg(), "cell": f"{STRUCTURE.name} x {'x'.join(map(str, REPEAT))}",
                    "checkpoint": CHECKPOINT.name, "chunks": a.chunks, "repeats": a.repeats,
                    "LD_PRELOAD": [Path(p).name for p in os.environ.get("LD_PRELOAD", "").split(":") if p]}
    model, species, edge_index, edge_vec = load_case(torch.float32)
    result["atoms"], result["bonds"] = int(species.shape[0]), int(edge_index.shape[1])
    result["short_bonds"] = int(model.short_bonds(torch.linalg.norm(edge_vec, dim=1)).shape[0])
    if "profile" in a.parts:
        result["profile"] = profile_step(model, species, edge_index, edge_vec, a.steps)
        print_profile(result["profile"])
    if "parity" in a.parts:
        result["parity"] = parity(ext, a.chunks)
    if "ops" in a.parts:
        result["ops"] = op_timing(ext, a.chunks, a.store_chunks, a.repeats, not a.no_inductor)
    if "step" in a.parts:
        best = a.chunks[0]
        if "ops" in result:
            best = min(a.store_chunks or a.chunks,
                       key=lambda c: result["ops"][f"chunked {c} {SAVE_NAMES[2]}"]["median_ms"]
                       if a.store_chunks else result["ops"][f"chunked {c} {SAVE_NAMES[0]}"]["median_ms"])
        result["step"] = step_timing(ext, best, a.repeats, not a.no_compiled)
    result["load_average_end"] = os.getloadavg()
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
