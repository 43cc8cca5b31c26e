/**
 * Resource report of the generated CUDA kernels (runtime/tools/resources.ts, `kvforge resources`):
 * no kernel generated for configs/ spills at sm_80 or sm_90, occupancy and registers are sane,
 * ptxas's output is parsed exactly, and generated/resources.json is what a fresh report gives.
 *
 * Needs nvcc (no GPU): without it the suite is skipped, and says so.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateFromFiles } from '../codegen/generate.ts';
import { configFiles } from '../codegen/loadSpecs.ts';
import { classifyKernel, parsePtxasResources } from '../runtime/tools/ptxas.ts';
import {
  ARCHS, findNvcc, generatedCudaSources, RESOURCES_JSON, resourceReport, serializeReport, spillingFunctions, type ResourceReport,
} from '../runtime/tools/resources.ts';
import { CONFIGS_DIR, GENERATED_DIR, PACKAGE_ROOT } from '../runtime/build/paths.ts';

// `nvcc -std=c++17 -O3 --expt-relaxed-constexpr -arch=sm_80 --resource-usage -I runtime/native/include
//  -c generated/cuda/causal_73a8de39ed.cu` (nvcc 13.0.88), stderr and stdout as printed.
const REAL_SM80 = `generated/cuda/causal_73a8de39ed.cu(24): warning #177-D: function "<unnamed>::Variant_causal_73a8de39ed::score" was declared but never referenced
    __attribute__((device)) float score([[maybe_unused]] float s, [[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h,
                                  ^

Remark: The warnings can be suppressed with "-diag-suppress <warning-number>"

ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function '_ZN3kvf4cuda12decodeKernelIN59_GLOBAL__N__65f277ee_20_causal_73a8de39ed_cu_6049f882_1250925Variant_causal_73a8de39edELi16EEEvT_NS0_10DeviceArgsINS4_7StorageEEE' for 'sm_80'
ptxas info    : Function properties for _ZN3kvf4cuda12decodeKernelIN59_GLOBAL__N__65f277ee_20_causal_73a8de39ed_cu_6049f882_1250925Variant_causal_73a8de39edELi16EEEvT_NS0_10DeviceArgsINS4_7StorageEEE
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 152 registers, used 1 barriers, 560 bytes cmem[0]
ptxas info    : Compile time = 131.969 ms
ptxas info    : Compiling entry function '_ZN3kvf4cuda17decodeMergeKernelILi64E13__nv_bfloat16EEvNS0_10DeviceArgsIT0_EE' for 'sm_80'
ptxas info    : Function properties for _ZN3kvf4cuda17decodeMergeKernelILi64E13__nv_bfloat16EEvNS0_10DeviceArgsIT0_EE
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 39 registers, used 0 barriers, 552 bytes cmem[0]
ptxas info    : Compile time = 22.344 ms
ptxas info    : Compiling entry function '_ZN3kvf4cuda12decodeKernelIN59_GLOBAL__N__65f277ee_20_causal_73a8de39ed_cu_6049f882_1250925Variant_causal_73a8de39edELi4EEEvT_NS0_10DeviceArgsINS4_7StorageEEE' for 'sm_80'
ptxas info    : Function properties for _ZN3kvf4cuda12decodeKernelIN59_GLOBAL__N__65f277ee_20_causal_73a8de39ed_cu_6049f882_1250925Variant_causal_73a8de39edELi4EEEvT_NS0_10DeviceArgsINS4_7StorageEEE
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 96 registers, used 1 barriers, 560 bytes cmem[0]
ptxas info    : Compile time = 54.194 ms
ptxas info    : Compiling entry function '_ZN3kvf4cuda13prefillKernelIN59_GLOBAL__N__65f277ee_20_causal_73a8de39ed_cu_6049f882_1250925Variant_causal_73a8de39edEEEvT_NS0_10DeviceArgsINS4_7StorageEEE' for 'sm_80'
ptxas info    : Function properties for _ZN3kvf4cuda13prefillKernelIN59_GLOBAL__N__65f277ee_20_causal_73a8de39ed_cu_6049f882_1250925Variant_causal_73a8de39edEEEvT_NS0_10DeviceArgsINS4_7StorageEEE
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 168 registers, used 1 barriers, 560 bytes cmem[0]
ptxas info    : Compile time = 115.495 ms`;

// The same flags with -maxrregcount=24 on this probe (spills, static shared memory, a device
// function that is not inlined):
/*
__device__ __noinline__ float helper(const float* p, int n) {
  float a[64];
  for (int i = 0; i < 64; ++i) a[i] = p[(i * n) & 1023];
  float s = 0;
  for (int i = 0; i < 64; ++i) s += a[(i * 7 + n) & 63] * a[i];
  return s;
}
__global__ void probeKernel(const float* p, float* out, int n) {
  __shared__ float tile[1024];
  tile[threadIdx.x] = p[threadIdx.x];
  __syncthreads();
  float acc[48];
  #pragma unroll
  for (int i = 0; i < 48; ++i) acc[i] = tile[(threadIdx.x + i * n) & 1023];
  for (int j = 0; j < n; ++j) {
    #pragma unroll
    for (int i = 0; i < 48; ++i) acc[i] = acc[i] * acc[(i + j) % 48] + tile[(i * j) & 1023];
  }
  float s = helper(p, n);
  #pragma unroll
  for (int i = 0; i < 48; ++i) s += acc[i];
  out[threadIdx.x] = s;
}
*/
const PROBE_SM80 = `ptxas info    : Overriding maximum register limit 256 for '_Z11probeKernelPKfPfi' with  24 of maxrregcount option
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function '_Z11probeKernelPKfPfi' for 'sm_80'
ptxas info    : Function properties for _Z11probeKernelPKfPfi
    1296 bytes stack frame, 540 bytes spill stores, 544 bytes spill loads
ptxas info    : Used 24 registers, used 1 barriers, 1296 bytes cumulative stack size, 4096 bytes smem, 372 bytes cmem[0]
ptxas info    : Compile time = 51.425 ms
ptxas info    : Function properties for _Z6helperPKfi
    0 bytes stack frame, 728 bytes spill stores, 864 bytes spill loads`;

const VARIANT = '_ZN3kvf4cuda12decodeKernelIN59_GLOBAL__N__65f277ee_20_causal_73a8de39ed_cu_6049f882_1250925Variant_causal_73a8de39edELi';

describe('the ptxas parser, on real nvcc output', () => {
  it('reads every entry function of a generated kernel exactly', () => {
    const fns = parsePtxasResources(REAL_SM80);
    expect(fns.map((f) => [f.mangled, f.arch, f.entry, f.registers, f.barriers, f.staticSmem, f.stackFrame, f.spillStores, f.spillLoads])).toEqual([
      [`${VARIANT}16EEEvT_NS0_10DeviceArgsINS4_7StorageEEE`, 'sm_80', true, 152, 1, 0, 0, 0, 0],
      ['_ZN3kvf4cuda17decodeMergeKernelILi64E13__nv_bfloat16EEvNS0_10DeviceArgsIT0_EE', 'sm_80', true, 39, 0, 0, 0, 0, 0],
      [`${VARIANT}4EEEvT_NS0_10DeviceArgsINS4_7StorageEEE`, 'sm_80', true, 96, 1, 0, 0, 0, 0],
      ['_ZN3kvf4cuda13prefillKernelIN59_GLOBAL__N__65f277ee_20_causal_73a8de39ed_cu_6049f882_1250925Variant_causal_73a8de39edEEEvT_NS0_10DeviceArgsINS4_7StorageEEE', 'sm_80', true, 168, 1, 0, 0, 0, 0],
    ]);
  });

  it('reads spills, static shared memory, stack and non-inlined device functions', () => {
    expect(parsePtxasResources(PROBE_SM80)).toEqual([
      { mangled: '_Z11probeKernelPKfPfi', entry: true, arch: 'sm_80', registers: 24, barriers: 1, staticSmem: 4096, stackFrame: 1296, spillStores: 540, spillLoads: 544 },
      { mangled: '_Z6helperPKfi', entry: false, arch: 'sm_80', registers: null, barriers: 0, staticSmem: 0, stackFrame: 0, spillStores: 728, spillLoads: 864 },
    ]);
  });

  it('rejects output that is not a complete ptxas report', () => {
    const cut = REAL_SM80.split('\n').filter((l) => !l.includes('Used 96 registers')).join('\n');
    expect(() => parsePtxasResources(cut)).toThrow(/no "Used \.\.\. registers" line/);
  });

  it('names the kernel templates from their demangled names', () => {
    const v = '(anonymous namespace)::Variant_causal_73a8de39ed';
    const args = `(${v}, kvf::cuda::DeviceArgs<${v}::Storage>)`;
    expect(classifyKernel(`void kvf::cuda::prefillKernel<${v}>${args}`)).toEqual({ role: 'prefill', variant: 'Variant_causal_73a8de39ed' });
    expect(classifyKernel(`void kvf::cuda::decodeKernel<${v}, 16>${args}`)).toEqual({ role: 'decode', variant: 'Variant_causal_73a8de39ed', rows: 16 });
    expect(classifyKernel('void kvf::cuda::decodeMergeKernel<64, __nv_bfloat16>(kvf::cuda::DeviceArgs<__nv_bfloat16>)')).toEqual({ role: 'merge', headDim: 64, storage: 'bf16' });
    expect(classifyKernel('probeKernel(float const*, float*, int)')).toBeNull();
  });
});

const nvcc = findNvcc();
if (!nvcc) {
  console.warn('specs/resources.test.ts: SKIPPED the resource report checks: nvcc is not on PATH (nor in $NVCC); the parser tests still run');
}

describe.skipIf(!nvcc)('resources of the kernels generated for configs/ (nvcc)', () => {
  let report: ResourceReport;
  let sources: Map<string, string>;

  // The report is of what configs/ generates now (cuda/<id>.cu -> source), so a spill fails here
  // even before generated/ is regenerated; drift.test.ts holds generated/ to the same text.
  beforeAll(async () => {
    const set = await generateFromFiles(configFiles(CONFIGS_DIR), PACKAGE_ROOT);
    sources = new Map([...set.files].filter(([f]) => f.startsWith('cuda/') && f.endsWith('.cu')));
    report = await resourceReport(sources, { nvcc: nvcc! });
  });

  it('covers every .cu in generated/cuda: prefill, both decodes and merge, at sm_80 and sm_90', () => {
    const files = readdirSync(path.join(GENERATED_DIR, 'cuda')).filter((f) => f.endsWith('.cu')).sort();
    expect(files.length).toBeGreaterThan(0);
    expect([...sources.keys()].sort()).toEqual(files.map((f) => `cuda/${f}`));
    expect([...generatedCudaSources()]).toEqual([...sources].sort(([a], [b]) => (a < b ? -1 : 1)));
    expect(report.kernels.map((k) => k.file).sort()).toEqual(files.map((f) => `cuda/${f}`));
    const manifest = JSON.parse(readFileSync(path.join(GENERATED_DIR, 'manifest.json'), 'utf8')) as {
      kernels: Record<string, { plan: { target: string; dtype: string; tileQ: number; tileK: number }; headDim: number; files: string[] }>;
    };
    for (const k of report.kernels) {
      const m = manifest.kernels[k.id]!;
      expect(m, k.id).toBeDefined();
      expect([m.plan.target, m.plan.dtype, m.headDim, m.plan.tileQ, m.plan.tileK, m.files]).toEqual(['cuda', k.dtype, k.headDim, k.tileQ, k.tileK, [k.file]]);
      for (const arch of ARCHS) {
        const fns = k.functions.filter((f) => f.arch === arch);
        expect(fns.map((f) => f.role), `${k.id} ${arch}`).toEqual(['prefill', 'decode', 'decode', 'merge', 'mass']);
        expect(fns[1]!.rows).toBeLessThan(fns[2]!.rows!);
      }
    }
  });

  it('no function spills at sm_80 or sm_90', () => {
    expect(spillingFunctions(report)).toEqual([]);
    for (const k of report.kernels) {
      for (const f of [...k.functions, ...k.deviceFunctions]) {
        expect([f.spillStores, f.spillLoads], `${k.id} ${'function' in f ? f.function : f.name} ${f.arch}`).toEqual([0, 0]);
      }
    }
  });

  it('occupancy is in (0, 1], registers at most 255, launches as host.cuh makes them', () => {
    for (const k of report.kernels) {
      for (const f of k.functions) {
        const what = `${k.id} ${f.function} ${f.arch}`;
        expect(f.occupancy, what).toBeGreaterThan(0);
        expect(f.occupancy, what).toBeLessThanOrEqual(1);
        expect(f.blocksPerSm, what).toBeGreaterThanOrEqual(1);
        expect(f.occupancy, what).toBe(f.activeWarps / f.maxWarps);
        expect(f.registers, what).toBeGreaterThan(0);
        expect(f.registers, what).toBeLessThanOrEqual(255);
        expect(f.threads, what).toBe(128);
        if (f.role === 'merge' || f.role === 'mass') expect(f.dynamicSmem, what).toBe(0);
        else expect(f.dynamicSmem, what).toBeGreaterThan(0);
      }
    }
  });

  it('generated/resources.json is what a fresh report gives (run kvforge resources)', () => {
    expect(readFileSync(RESOURCES_JSON, 'utf8')).toBe(serializeReport(report));
  });

  it('kvforge resources --check agrees, and writes nothing', () => {
    const before = statSync(RESOURCES_JSON).mtimeMs;
    const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'runtime/cli/kvforge.mjs'), 'resources', '--check'], {
      cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 280_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/prefill +sm_90/);
    expect(r.stdout).toContain('generated/resources.json up to date');
    expect(statSync(RESOURCES_JSON).mtimeMs).toBe(before);
  });
});

describe('kvforge resources without nvcc', () => {
  it('says so, exits 0 and leaves generated/resources.json alone', () => {
    const before = readFileSync(RESOURCES_JSON, 'utf8');
    const env = { ...process.env, PATH: '/nonexistent', NVCC: '' };
    const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'runtime/cli/kvforge.mjs'), 'resources'], {
      cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 60_000, env,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/nvcc is not on PATH/);
    expect(readFileSync(RESOURCES_JSON, 'utf8')).toBe(before);
  });
});
