import { describe, expect, it } from 'vitest';
import { formatQuantity, parseQuantity, QuantityError } from './quantity.ts';

describe('parseQuantity', () => {
  it.each([
    ['0', 0n],
    ['100', 100n],
    ['+100', 100n],
    ['-5', -5n],
    ['1Ki', 1024n],
    ['1Mi', 1048576n],
    ['200Gi', 200n * 2n ** 30n],
    ['1Ti', 2n ** 40n],
    ['1Pi', 2n ** 50n],
    ['2Ei', 2n * 2n ** 60n],
    ['1.5Gi', 1610612736n],
    ['0.5Ki', 512n],
    ['.5Ki', 512n],
    ['1.Ki', 1024n],
    ['1k', 1000n],
    ['500M', 500_000_000n],
    ['1.5G', 1_500_000_000n],
    ['1T', 10n ** 12n],
    ['1P', 10n ** 15n],
    ['1E', 10n ** 18n],
    ['1e3', 1000n],
    ['1E3', 1000n],
    ['1.5e3', 1500n],
    ['12e+9', 12n * 10n ** 9n],
    ['1e-3', 1n],
    ['1500m', 2n],
    ['1000m', 1n],
    ['1u', 1n],
    ['1n', 1n],
    ['007Gi', 7n * 2n ** 30n],
  ])('reads %s exactly', (text, expected) => {
    expect(parseQuantity(text)).toBe(expected);
  });

  it('reads integers (the field is int-or-string)', () => {
    expect(parseQuantity(1073741824)).toBe(1073741824n);
    expect(parseQuantity(0)).toBe(0n);
  });

  it('sums without floating-point drift', () => {
    expect(parseQuantity('80Gi') + parseQuantity('20Gi')).toBe(parseQuantity('100Gi'));
    expect(parseQuantity('1Gi') > parseQuantity('1G')).toBe(true);
  });

  it.each(['', 'Gi', '1 Gi', '1gi', '1KI', '1ki', '1K', '1e', '1e1.5', '1.2.3', '--1', '1Gi ', 'ten', '1Gb', '0x10', 'Infinity'])('refuses %j', (text) => {
    expect(() => parseQuantity(text)).toThrow(QuantityError);
  });

  it('refuses values that would need gigantic integers', () => {
    expect(() => parseQuantity('1e999999999')).toThrow(/out of range/);
    expect(() => parseQuantity('9'.repeat(200))).toThrow(/too many digits/);
    expect(() => parseQuantity(Number.POSITIVE_INFINITY)).toThrow(QuantityError);
  });
});

describe('formatQuantity', () => {
  it.each([
    [0n, '0'],
    [1024n, '1Ki'],
    [110n * 2n ** 30n, '110Gi'],
    [2n ** 40n, '1Ti'],
    [1536n * 2n ** 20n, '1536Mi'],
    [2000n, '2k'],
    [1_500_000_000n, '1500M'],
    [1500n, '1500'],
    [1001n, '1001'],
    [-2048n, '-2Ki'],
  ])('writes %s as %s', (value, text) => {
    expect(formatQuantity(value)).toBe(text);
  });

  it('round-trips through parseQuantity', () => {
    for (const text of ['5Gi', '100Gi', '3k', '7', '1Ei']) expect(formatQuantity(parseQuantity(text))).toBe(text);
  });
});
