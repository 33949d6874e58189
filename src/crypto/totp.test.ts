import { inflateSync } from 'node:zlib';
import { Secret, TOTP } from 'otpauth';
import { create } from 'qrcode';
import { describe, expect, it } from 'vitest';
import {
  InvalidTotpSecretError,
  TOTP_PERIOD_SECONDS,
  generateTotpSecret,
  totpQrPng,
  totpTimeStep,
  totpUri,
  verifyTotp,
} from './totp.ts';

// RFC 6238 Appendix B. Seeds are the ASCII strings below (20, 32 and 64 bytes); 8 digits, 30 s steps.
const SEED_SHA1 = '12345678901234567890';
const SEED_SHA256 = '12345678901234567890123456789012';
const SEED_SHA512 = '1234567890123456789012345678901234567890123456789012345678901234';
const RFC6238_VECTORS: readonly [number, string, string, string][] = [
  // [time (s), SHA1, SHA256, SHA512]
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
];

const SHA1_SECRET_BASE32 = Secret.fromLatin1(SEED_SHA1).base32; // GEZDGNBVGY3TQOJQ…

describe('RFC 6238 Appendix B vectors through otpauth', () => {
  it.each(RFC6238_VECTORS)('T = %i s', (seconds, sha1, sha256, sha512) => {
    const at = (seed: string, algorithm: string): string =>
      TOTP.generate({ secret: Secret.fromLatin1(seed), algorithm, digits: 8, period: 30, timestamp: seconds * 1000 });
    expect(at(SEED_SHA1, 'SHA1')).toBe(sha1);
    expect(at(SEED_SHA256, 'SHA256')).toBe(sha256);
    expect(at(SEED_SHA512, 'SHA512')).toBe(sha512);
  });

  it.each(RFC6238_VECTORS)('verifyTotp (SHA1, 6 digits) accepts the last 6 digits of the SHA1 vector at T = %i s', (seconds, sha1) => {
    // Dynamic truncation is mod 10^digits, so the 6-digit code is the last 6 digits of the 8-digit one.
    expect(verifyTotp(SHA1_SECRET_BASE32, sha1.slice(2), { now: seconds * 1000, window: 0 })).toBe(true);
    expect(verifyTotp(SHA1_SECRET_BASE32, sha1.slice(0, 6), { now: seconds * 1000, window: 0 })).toBe(sha1.slice(0, 6) === sha1.slice(2));
  });
});

describe('verifyTotp window', () => {
  const secret = generateTotpSecret();
  const now = 1_700_000_000_000 + 12_345; // mid-step
  const codeAt = (stepOffset: number): string =>
    TOTP.generate({
      secret: Secret.fromBase32(secret),
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
      timestamp: now + stepOffset * TOTP_PERIOD_SECONDS * 1000,
    });

  it('accepts the current step and ±1 step by default', () => {
    expect(verifyTotp(secret, codeAt(0), { now })).toBe(true);
    expect(verifyTotp(secret, codeAt(-1), { now })).toBe(true);
    expect(verifyTotp(secret, codeAt(1), { now })).toBe(true);
  });

  it('refuses codes two steps away by default, accepts them with window 2', () => {
    for (const offset of [-2, 2]) {
      const code = codeAt(offset);
      // Skip the (1 in 10^6) case where a far code collides with one inside the window.
      if ([-1, 0, 1].some((o) => codeAt(o) === code)) continue;
      expect(verifyTotp(secret, code, { now })).toBe(false);
      expect(verifyTotp(secret, code, { now, window: 2 })).toBe(true);
    }
  });

  it('window 0 accepts only the current step', () => {
    expect(verifyTotp(secret, codeAt(0), { now, window: 0 })).toBe(true);
    if (codeAt(1) !== codeAt(0)) expect(verifyTotp(secret, codeAt(1), { now, window: 0 })).toBe(false);
  });

  it('uses the current time when now is not given', () => {
    const live = TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
    expect(verifyTotp(secret, live)).toBe(true);
  });

  it('refuses the code of another secret', () => {
    const other = generateTotpSecret();
    const code = TOTP.generate({ secret: Secret.fromBase32(other), timestamp: now });
    if (![-1, 0, 1].some((o) => codeAt(o) === code)) expect(verifyTotp(secret, code, { now })).toBe(false);
  });

  it.each(['', '12345', '1234567', '12345a', '+12345', '-12345', ' 123456', '123456 ', '123 456', '１２３４５６', '١٢٣٤٥٦', '12.345'])(
    'refuses the non-code %j',
    (code) => {
      expect(verifyTotp(secret, code, { now })).toBe(false);
    },
  );

  it('refuses bad windows and times', () => {
    expect(() => verifyTotp(secret, '123456', { window: -1 })).toThrow(RangeError);
    expect(() => verifyTotp(secret, '123456', { window: 1.5 })).toThrow(RangeError);
    expect(() => verifyTotp(secret, '123456', { window: 11 })).toThrow(RangeError);
    expect(() => verifyTotp(secret, '123456', { now: Number.NaN })).toThrow(RangeError);
  });

  it('time steps are 30 s', () => {
    expect(totpTimeStep(59_000)).toBe(1);
    expect(totpTimeStep(60_000)).toBe(2);
    expect(totpTimeStep(1111111109_000)).toBe(0x23523ec);
  });
});

describe('TOTP secrets', () => {
  it('are 160-bit base32, different every time', () => {
    const secrets = Array.from({ length: 50 }, () => generateTotpSecret());
    for (const s of secrets) {
      expect(s).toMatch(/^[A-Z2-7]{32}$/);
      expect(Secret.fromBase32(s).bytes).toHaveLength(20);
    }
    expect(new Set(secrets).size).toBe(50);
  });

  it('refuses invalid or short secrets without echoing them', () => {
    for (const bad of ['not-base32!', 'ABCDEFGH', '']) {
      expect(() => verifyTotp(bad, '123456')).toThrow(InvalidTotpSecretError);
    }
    const secret = 'MZXW6YTBOI======1'; // '1' is not base32
    try {
      verifyTotp(secret, '123456');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidTotpSecretError);
      expect((err as Error).message).not.toContain('MZXW6');
    }
  });

  it('tolerate lower case, spaces and padding as apps print them', () => {
    const code = TOTP.generate({ secret: Secret.fromBase32(SHA1_SECRET_BASE32), timestamp: 59_000 });
    const spaced = SHA1_SECRET_BASE32.toLowerCase().replace(/(.{4})/g, '$1 ');
    expect(verifyTotp(spaced, code, { now: 59_000 })).toBe(true);
  });
});

describe('totpUri', () => {
  it('is an otpauth URI with SHA1, 6 digits, 30 s and the secret', () => {
    const secret = generateTotpSecret();
    const uri = totpUri({ issuer: 'ACME Cloud Backup', account: 'alice@example.com', secret });
    const url = new URL(uri);
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(decodeURIComponent(url.pathname)).toBe('/ACME Cloud Backup:alice@example.com');
    expect(url.searchParams.get('issuer')).toBe('ACME Cloud Backup');
    expect(url.searchParams.get('secret')).toBe(secret);
    expect(url.searchParams.get('algorithm')).toBe('SHA1');
    expect(url.searchParams.get('digits')).toBe('6');
    expect(url.searchParams.get('period')).toBe('30');
    // What an authenticator app would compute from the URI matches what we verify.
    const parsed = TOTP.generate({ secret: Secret.fromBase32(url.searchParams.get('secret')!), timestamp: 1_000_000 });
    expect(verifyTotp(secret, parsed, { now: 1_000_000, window: 0 })).toBe(true);
  });

  it('refuses colons and empty names, and bad secrets', () => {
    const secret = generateTotpSecret();
    expect(() => totpUri({ issuer: 'A:B', account: 'alice', secret })).toThrow(/issuer must not contain ":"/);
    expect(() => totpUri({ issuer: 'ACME', account: 'a:lice', secret })).toThrow(/account must not contain ":"/);
    expect(() => totpUri({ issuer: ' ', account: 'alice', secret })).toThrow(/issuer must be a non-empty/);
    expect(() => totpUri({ issuer: 'ACME', account: 'alice', secret: 'short' })).toThrow(InvalidTotpSecretError);
  });
});

/** Minimal PNG reader for the test: 8-bit greyscale / RGB / RGBA, non-interlaced, all five filters. */
function decodePng(png: Buffer): { width: number; height: number; dark: (x: number, y: number) => boolean } {
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8); // bit depth
      expect(data[12]).toBe(0); // not interlaced
      channels = ({ 0: 1, 2: 3, 6: 4 } as Record<number, number>)[data[9]!]!;
      expect(channels).toBeDefined();
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= channels ? pixels[y * stride + i - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels]! : 0;
      const paeth = (): number => {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      };
      const predictor = [0, a, b, (a + b) >> 1, paeth()][filter]!;
      pixels[y * stride + i] = (x + predictor) & 0xff;
    }
  }
  return { width, height, dark: (x, y) => pixels[y * stride + x * channels]! < 128 };
}

describe('totpQrPng', () => {
  it('renders a PNG whose modules are exactly the QR code of the URI', async () => {
    const uri = totpUri({ issuer: 'ACME', account: 'bob@example.com', secret: generateTotpSecret() });
    const png = await totpQrPng(uri);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.length).toBeGreaterThan(500);

    const image = decodePng(png);
    const qr = create(uri, { errorCorrectionLevel: 'M' });
    const size = qr.modules.size;
    const margin = 4;
    const scale = image.width / (size + 2 * margin);
    expect(Number.isInteger(scale)).toBe(true);
    expect(image.height).toBe(image.width);
    let differences = 0;
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size; col++) {
        const x = Math.floor((margin + col + 0.5) * scale);
        const y = Math.floor((margin + row + 0.5) * scale);
        if (image.dark(x, y) !== (qr.modules.get(row, col) === 1)) differences++;
      }
    }
    expect(differences).toBe(0);
    // The quiet zone is light.
    expect(image.dark(1, 1)).toBe(false);
    // And it is not the QR code of a different URI.
    const other = create(uri.replace('bob', 'eve'), { errorCorrectionLevel: 'M' });
    let otherDifferences = 0;
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size; col++) {
        const x = Math.floor((margin + col + 0.5) * scale);
        const y = Math.floor((margin + row + 0.5) * scale);
        if (image.dark(x, y) !== (other.modules.get(row, col) === 1)) otherDifferences++;
      }
    }
    expect(otherDifferences).toBeGreaterThan(0);
  });

  it('refuses input that is not an otpauth URI', () => {
    expect(() => totpQrPng('https://example.com')).toThrow(/otpauth:\/\//);
  });
});
