// The common start of an end-to-end test file: one lab with a mesh in it per describe block, built
// before its first test and torn down after its last, and a runner that explains failures with logs.
import { after, before } from 'node:test';
import type { Lab } from '../../lab/lab';
import { startMeshLab, type Mesh, type MeshMember, type MeshPlan } from '../../lab/meshboi';
import type { TopologyDescription } from '../../lab/topology';
import { skipUnlessRoot } from '../../lab/tools';

export const E2E_SKIP = skipUnlessRoot('runs members with TUN devices in network namespaces behind nftables NATs');

export interface MeshLab {
  lab: Lab;
  mesh: Mesh;
}

export interface MeshLabFixture {
  /** Runs a test body with the lab and its mesh; on failure the message gains every process's log tail. */
  run(body: (context: MeshLab) => Promise<void>): Promise<void>;
  /** The member running on a host. */
  member(host: string): MeshMember;
}

/** Registers the before/after hooks of the enclosing describe block; call it at the top of that block. */
export function meshLabFixture(description: TopologyDescription, plan: MeshPlan): MeshLabFixture {
  let context: MeshLab | undefined;
  before(async () => {
    context = await startMeshLab(description, plan);
  });
  after(() => context?.lab.teardown());
  const built = (): MeshLab => {
    if (!context) throw new Error('the lab was not built: see the error of the before hook');
    return context;
  };
  return {
    run: (body) => {
      const current = built();
      return current.lab.explainFailure(() => body(current));
    },
    member: (host) => {
      const found = built().mesh.members.find((candidate) => candidate.name === host);
      if (!found) throw new Error(`no member on ${host}`);
      return found;
    },
  };
}
