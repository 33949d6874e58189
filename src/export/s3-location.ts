/** Splits `s3://bucket/key`; null when `location` is not one. */
export function parseS3Location(location: string): { bucket: string; key: string } | null {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  return match === null ? null : { bucket: match[1] as string, key: match[2] as string };
}
