/**
 * @meshlan/e2e — real meshlan daemons in network-namespace labs, for the end-to-end tests, the
 * demo (`src/demo.ts`) and the benchmarks (`bench/`). Not part of the product.
 */
export {
  CLI_MAIN,
  CliError,
  createMeshLab,
  formMesh,
  ipOf,
  MeshHost,
  type MeshLab,
  REPO_ROOT,
  type Status,
} from './mesh-lab.ts'
