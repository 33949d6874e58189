import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { datacenter, space } from '../../../test/support/objects.ts';
import { spaceStatus } from './status.ts';
import { APPROVE_UPGRADE_ANNOTATION, chooseGatewayImage, upgradePolicy, upToDateCondition } from './upgrade.ts';

const OLD = 'registry.example/tbo:1.0.0';
const NEW = `registry.example/tbo@sha256:${'0f'.repeat(32)}`;

function deployment(image: string, status: V1Deployment['status'], generation = 2): V1Deployment {
  return {
    metadata: { name: 'vault-gateway', generation },
    spec: { selector: {}, template: { spec: { containers: [{ name: 'gateway', image }] } } },
    status: { observedGeneration: generation, ...status },
  };
}
const rolledOut = { replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 };

describe('the upgrade policy of a space', () => {
  it('is the space\'s own, else its datacenter\'s, else Automatic', () => {
    const manualDc = datacenter('it-mil1', 'IT', { gatewayUpgrade: 'Manual' });
    expect(upgradePolicy(space('a', 'ns', { upgrade: { policy: 'Automatic' } }), manualDc)).toEqual({ policy: 'Automatic', from: 'space' });
    expect(upgradePolicy(space('a', 'ns'), manualDc)).toEqual({ policy: 'Manual', from: 'datacenter' });
    expect(upgradePolicy(space('a', 'ns', { upgrade: {} }), datacenter('it-mil1', 'IT'))).toEqual({ policy: 'Automatic', from: 'default' });
    expect(upgradePolicy(space('a', 'ns', { upgrade: { policy: 'Manual' } }), undefined)).toEqual({ policy: 'Manual', from: 'space' });
  });
});

describe('chooseGatewayImage', () => {
  it('gives an Automatic space the current image at once', () => {
    expect(chooseGatewayImage({ policy: 'Automatic', current: NEW, running: OLD, approval: undefined })).toEqual({ image: NEW, held: false });
  });

  it('keeps a Manual space on the image its Deployment runs', () => {
    expect(chooseGatewayImage({ policy: 'Manual', current: NEW, running: OLD, approval: undefined })).toEqual({ image: OLD, held: true });
  });

  it('starts a new Manual space (no Deployment yet) on the current image', () => {
    expect(chooseGatewayImage({ policy: 'Manual', current: NEW, running: undefined, approval: undefined })).toEqual({ image: NEW, held: false });
  });

  it('rolls a Manual space once the approval names the current image, and only then', () => {
    expect(chooseGatewayImage({ policy: 'Manual', current: NEW, running: OLD, approval: NEW })).toEqual({ image: NEW, held: false });
    // An approval of an earlier release does not let this one through.
    expect(chooseGatewayImage({ policy: 'Manual', current: NEW, running: OLD, approval: 'registry.example/tbo:0.9.0' })).toEqual({ image: OLD, held: true, staleApproval: 'registry.example/tbo:0.9.0' });
    expect(chooseGatewayImage({ policy: 'Manual', current: NEW, running: OLD, approval: 'x'.repeat(5000) }).staleApproval).toHaveLength(257);
  });

  it('holds nothing when the space already runs the current image', () => {
    expect(chooseGatewayImage({ policy: 'Manual', current: NEW, running: NEW, approval: undefined })).toEqual({ image: NEW, held: false });
  });
});

describe('the UpToDate condition', () => {
  const vault = { ...space('vault', 'tenant-acme', { upgrade: { policy: 'Manual' } }) };
  const effective = { policy: 'Manual' as const, from: 'space' as const };

  it('says UpgradeAvailable, with how to approve, while a Manual space is held back', () => {
    const condition = upToDateCondition({ space: vault, effective, choice: { image: OLD, held: true }, current: NEW, observed: deployment(OLD, rolledOut), wanted: 2 });
    expect(condition).toMatchObject({ type: 'UpToDate', status: 'False', reason: 'UpgradeAvailable' });
    expect(condition.message).toContain(`the gateway runs ${OLD}; ${NEW} is available and held back because spec.upgrade.policy is Manual`);
    expect(condition.message).toContain(`kubectl annotate backupspace vault -n tenant-acme ${APPROVE_UPGRADE_ANNOTATION}=${NEW} --overwrite`);
  });

  it('names the datacenter when the policy is inherited, and a stale approval', () => {
    const condition = upToDateCondition({ space: vault, effective: { policy: 'Manual', from: 'datacenter' }, choice: { image: OLD, held: true, staleApproval: 'x:1' }, current: NEW, observed: deployment(OLD, rolledOut), wanted: 2 });
    expect(condition.message).toContain('datacenter it-mil1 has spec.gatewayUpgrade Manual (the approval names x:1');
  });

  it('says RollingOut until the Deployment asks for the current image and every replica runs it', () => {
    const choice = { image: NEW, held: false };
    const auto = { policy: 'Automatic' as const, from: 'default' as const };
    // The cache still shows the old template (our write not yet seen).
    expect(upToDateCondition({ space: vault, effective: auto, choice, current: NEW, observed: deployment(OLD, rolledOut), wanted: 2 })).toMatchObject({ status: 'False', reason: 'RollingOut', message: `rolling the gateway out to ${NEW}: 0/2 replica(s) updated` });
    // Not yet observed by the Deployment controller.
    expect(upToDateCondition({ space: vault, effective: auto, choice, current: NEW, observed: { ...deployment(NEW, rolledOut), status: { ...rolledOut, observedGeneration: 1 } }, wanted: 2 }).reason).toBe('RollingOut');
    // Halfway: one replica updated, an old one still there.
    expect(upToDateCondition({ space: vault, effective: auto, choice, current: NEW, observed: deployment(NEW, { replicas: 2, updatedReplicas: 1, availableReplicas: 1 }), wanted: 2 })).toMatchObject({ reason: 'RollingOut', message: `rolling the gateway out to ${NEW}: 1/2 replica(s) updated` });
    // All updated but an old pod still terminating, or the new ones not yet available.
    expect(upToDateCondition({ space: vault, effective: auto, choice, current: NEW, observed: deployment(NEW, { replicas: 3, updatedReplicas: 2, availableReplicas: 2 }), wanted: 2 }).reason).toBe('RollingOut');
    expect(upToDateCondition({ space: vault, effective: auto, choice, current: NEW, observed: deployment(NEW, { replicas: 2, updatedReplicas: 2, availableReplicas: 1 }), wanted: 2 }).reason).toBe('RollingOut');
    expect(upToDateCondition({ space: vault, effective: auto, choice, current: NEW, observed: undefined, wanted: 2 }).reason).toBe('RollingOut');
  });

  it('is True once rolled out on the current image', () => {
    expect(upToDateCondition({ space: vault, effective, choice: { image: NEW, held: false }, current: NEW, observed: deployment(NEW, rolledOut), wanted: 2 })).toMatchObject({ type: 'UpToDate', status: 'True', reason: 'CurrentImage' });
  });

  it('does not change Ready: a held space running its old image rolled out is Ready', () => {
    const now = new Date('2026-12-01T10:00:00Z');
    const upToDate = upToDateCondition({ space: vault, effective, choice: { image: OLD, held: true }, current: NEW, observed: deployment(OLD, rolledOut), wanted: 2 });
    const status = spaceStatus(vault, { pods: [], endpoints: 0, keys: { keyId: 'k1-0000000000000000', custody: 'provider' }, gateway: deployment(OLD, rolledOut), upToDate }, now);
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'GatewayReady' });
    expect(status.conditions?.find((c) => c.type === 'UpToDate')).toMatchObject({ status: 'False', reason: 'UpgradeAvailable' });
    expect(status.conditions?.some((c) => c.type === 'Reconciling' || c.type === 'Stalled')).toBe(false);
    expect(status.phase).toBe('Ready');
  });
});
