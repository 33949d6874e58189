/**
 * Checks an image reference given on the command line (`--gateway-image`, `--export-image`) before
 * the operator writes it into every space's Deployment: a typo here would otherwise surface as
 * gateways stuck in ImagePullBackOff across the fleet, long after start-up. Grammar as the
 * distribution reference (github.com/distribution/reference): `[host[:port]/]path[:tag][@digest]`;
 * a digest must be sha256 with 64 lower-case hex digits, which is what pins an image (S3).
 */
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const HOST = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?';
const NAME = new RegExp(`^(?:${HOST}/)?${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export interface ImageReference {
  /** Registry and repository, without tag or digest. */
  name: string;
  tag?: string;
  digest?: string;
}

/** Parses `value` or throws an error naming `flag` and the rule broken. */
export function parseImageReference(value: string, flag: string): ImageReference {
  const at = value.indexOf('@');
  const withoutDigest = at === -1 ? value : value.slice(0, at);
  const digest = at === -1 ? undefined : value.slice(at + 1);
  if (digest !== undefined && !DIGEST.test(digest)) {
    throw new Error(`${flag}: the digest of '${value}' must be sha256: followed by 64 lower-case hex digits`);
  }
  // A colon after the last slash starts the tag; one before it belongs to a registry's port.
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > withoutDigest.lastIndexOf('/');
  const name = hasTag ? withoutDigest.slice(0, colon) : withoutDigest;
  const tag = hasTag ? withoutDigest.slice(colon + 1) : undefined;
  if (!NAME.test(name) || name.length > 255) {
    throw new Error(`${flag}: '${value}' is not an image reference: expected [registry/]repository[:tag][@sha256:<digest>] with a lower-case repository`);
  }
  if (tag !== undefined && !TAG.test(tag)) {
    throw new Error(`${flag}: the tag of '${value}' must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`);
  }
  if (tag === undefined && digest === undefined) {
    throw new Error(`${flag}: '${value}' names no tag or digest; give one (repository:tag or repository@sha256:…) so every gateway runs the same image`);
  }
  return { name, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** A commander option parser for an image flag: returns the value unchanged once it is valid. */
export function imageReferenceOption(flag: string): (value: string) => string {
  return (value: string) => {
    parseImageReference(value, flag);
    return value;
  };
}
