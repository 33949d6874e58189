/**
 * The customer sets and changes the space password themselves (S6, S13), with no provider
 * credential involved: a tenant admin signed in on the human routes (password and TOTP under the
 * tenant's two-factor policy) calls
 *
 *   POST /v1/password  {newPassword}               first use: the gateway makes the space's data
 *                                                  key, wraps it with a key derived by scrypt from
 *                                                  the password, keeps only the record, and unseals
 *                      {oldPassword, newPassword}  change: the old password is checked through the
 *                                                  same bounded verifier as /v1/unseal; the same
 *                                                  data key is re-wrapped — no data is re-encrypted
 *
 * → {state, keyId, recordVersion, replicas}. Either way every replica is then unsealed with the new
 * password (the record is on the shared volume first, customer-key-store.ts says why and what
 * happens next). The password is never logged, answered, or written anywhere but into the KDF.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkPasswordPolicy, generateDataKey, keyIdOf, PasswordPolicyError, sealWithPassword } from '../crypto/index.ts';
import type { HumanAccess } from './access-config.ts';
import { accessInForce, type GatewayContext } from './context.ts';
import { CustomerKeyConflictError, type StagedCustomerKey } from './customer-key-store.ts';
import { HttpError, readJsonBody, sendJson } from './http-util.ts';
import { optionalString, relayUnsealToPeers, requiredString, throttledUnseal, unsealChecked } from './human-routes.ts';

export async function handlePassword(context: GatewayContext, req: IncomingMessage, res: ServerResponse, user: HumanAccess): Promise<void> {
  if (user.role !== 'admin') throw new HttpError(403, 'only a tenant admin may set or change the space password');
  const body = await readJsonBody(req);
  const newPassword = requiredString(body, 'newPassword');
  const oldPassword = optionalString(body, 'oldPassword');
  const access = await accessInForce(context);
  const custody = access.space.keyCustody;
  if (custody.mode !== 'customer') throw new HttpError(409, 'the space is not under customer key custody');
  try {
    checkPasswordPolicy(newPassword);
  } catch (error) {
    if (error instanceof PasswordPolicyError) throw new HttpError(400, `field "newPassword": ${error.message}`);
    throw error;
  }
  let staged: StagedCustomerKey;
  if (custody.record === undefined || custody.keyId === undefined) {
    if (oldPassword !== undefined) throw new HttpError(409, 'no space password is set yet: send newPassword alone');
    staged = await setFirst(context, access.space.uid, newPassword);
    context.log.info({ user: user.name, keyId: staged.keyId }, 'space password set: data key made and wrapped with it');
  } else {
    if (oldPassword === undefined) throw new HttpError(409, 'a space password is set: send oldPassword too, to change it');
    // Wrong old passwords count like wrong sign-ins and unseals (SignInThrottle and the vault's bound).
    await throttledUnseal(context, access, oldPassword, user.name, req.socket.remoteAddress);
    const dataKey = context.vault.dataKey;
    if (dataKey === null || keyIdOf(dataKey) !== custody.keyId) throw new HttpError(409, 'the space data key is not the configured one; nothing was changed');
    const record = await sealWithPassword(dataKey, newPassword, access.space.uid);
    staged = await conflictsAs409(context.customerKeys.replace(custody.recordVersion ?? 0, custody.keyId, record));
    context.log.info({ user: user.name, keyId: staged.keyId, recordVersion: staged.version }, 'space password changed: data key re-wrapped');
  }
  await unsealChecked(context, await accessInForce(context), newPassword, { user: user.name });
  sendJson(res, 200, { state: context.vault.state, keyId: staged.keyId, recordVersion: staged.version, replicas: await relayUnsealToPeers(context, newPassword, user.name) });
}

async function setFirst(context: GatewayContext, spaceUid: string, password: string): Promise<StagedCustomerKey> {
  const dataKey = generateDataKey();
  try {
    const record = await sealWithPassword(dataKey, password, spaceUid);
    return await conflictsAs409(context.customerKeys.create(keyIdOf(dataKey), record));
  } finally {
    dataKey.fill(0);
  }
}

async function conflictsAs409<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (error instanceof CustomerKeyConflictError) throw new HttpError(409, `${error.message}; sign in again and retry with the password now in force`);
    throw error;
  }
}
