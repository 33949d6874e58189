import { describe, expect, it } from 'vitest';
import { parseBindAddress, parseListenAddress } from './listen-address.ts';

describe('listen addresses', () => {
  it.each([
    ['127.0.0.1:8443', { host: '127.0.0.1', port: 8443 }],
    [':9443', { host: '0.0.0.0', port: 9443 }],
    ['[::1]:8081', { host: '::1', port: 8081 }],
    ['gateway.local:0', { host: 'gateway.local', port: 0 }],
  ])('parse %s', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each(['8443', '::1:8081', 'host:', 'host:70000', 'host:port'])('refuse %s, naming the flag', (text) => {
    expect(() => parseListenAddress(text, '--webhook-bind-address')).toThrow(`--webhook-bind-address must be host:port, [ipv6]:port or :port, not "${text}"`);
  });

  it('take 0 or nothing as disabled and a bare port as every interface, for bind addresses', () => {
    expect(parseBindAddress('0', '--metrics-bind-address')).toBeUndefined();
    expect(parseBindAddress('', '--metrics-bind-address')).toBeUndefined();
    expect(parseBindAddress('8081', '--health-probe-bind-address')).toEqual({ host: '0.0.0.0', port: 8081 });
    expect(() => parseBindAddress('nope', '--health-probe-bind-address')).toThrow('--health-probe-bind-address must be');
  });
});
