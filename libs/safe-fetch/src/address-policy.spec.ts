import { classifyAddress, HostAllowList } from './address-policy';

describe('classifyAddress', () => {
  it.each([
    // IPv4 special ranges
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['169.254.0.1', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.100.100.200', 'carrierGradeNat'],
    ['100.127.255.255', 'carrierGradeNat'],
    ['192.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['192.88.99.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    // unusual spellings of loopback that some resolvers and stacks accept
    ['2130706433', 'loopback'],
    ['0x7f.1', 'loopback'],
    ['127.1', 'loopback'],
    ['017700000001', 'loopback'],
    // IPv6
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'scoped (zone index)'],
    ['fc00::1', 'uniqueLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['fd12:3456:789a::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['ff05::1:3', 'multicast'],
    ['fec0::1', 'deprecatedSiteLocal'],
    ['100::1', 'discard'],
    ['2001:db8::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['2001::1', 'teredo'],
    ['2001:2::1', 'benchmarking'],
    ['5f00::1', 'segmentRouting'],
    ['::ffff:0:a00:1', 'rfc6145'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['::a00:1', 'IPv4-compatible'],
    // ipaddr.js alone would read this as IPv4-mapped 8.8.8.8; sockets read it as IPv4-compatible
    ['::8.8.8.8', 'IPv4-compatible'],
    ['4000::1', 'not global unicast'],
    // v4 embedded in v6
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback (127.0.0.1)'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback (127.0.0.1)'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private (10.0.0.1)'],
    ['::ffff:169.254.169.254', 'IPv4-mapped linkLocal (169.254.169.254)'],
    ['[::ffff:100.100.100.200]', 'IPv4-mapped carrierGradeNat (100.100.100.200)'],
    ['64:ff9b::a00:1', 'NAT64 private (10.0.0.1)'],
    ['64:ff9b::127.0.0.1', 'NAT64 loopback (127.0.0.1)'],
    ['64:ff9b:1::808:808', 'local-use NAT64'],
    ['2002:7f00:1::1', '6to4 loopback (127.0.0.1)'],
    ['2002:a9fe:a9fe::1', '6to4 linkLocal (169.254.169.254)'],
    // not addresses at all
    ['localhost', 'not an IP address'],
    ['', 'not an IP address'],
    ['1.2.3.4.5', 'not an IP address'],
    ['example.com', 'not an IP address'],
  ])('refuses %s (%s)', (address, range) => {
    expect(classifyAddress(address)).toEqual({ allowed: false, address, range });
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.215.14',
    '100.63.255.255',
    '100.128.0.1',
    '172.15.255.255',
    '172.32.0.1',
    '192.167.255.255',
    '169.253.255.255',
    '198.20.0.1',
    '223.255.255.254',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('allows the public address %s', (address) => {
    expect(classifyAddress(address)).toEqual({ allowed: true, address, range: 'unicast' });
  });
});

describe('HostAllowList', () => {
  const list = new HostAllowList(['LocalHost.', '127.0.0.1', '[::1]:8080', 'docs.example:8443', 'fd00::5']);

  it('matches hostnames case-insensitively and without a trailing dot', () => {
    expect(list.allowsHost('localhost', 80)).toBe(true);
    expect(list.allowsHost('LOCALHOST.', 3000)).toBe(true);
    expect(list.allowsHost('localhost.localdomain', 80)).toBe(false);
    expect(list.allowsHost('otherhost', 80)).toBe(false);
  });

  it('matches the port when an entry names one', () => {
    expect(list.allowsHost('docs.example', 8443)).toBe(true);
    expect(list.allowsHost('docs.example', 443)).toBe(false);
    expect(list.allowsAddress('::1', 8080)).toBe(true);
    expect(list.allowsAddress('::1', 80)).toBe(false);
  });

  it('counts only port-naming entries when asked whether the port itself is named', () => {
    expect(list.allowsHost('docs.example', 8443, { portNamed: true })).toBe(true);
    expect(list.allowsHost('localhost', 25, { portNamed: true })).toBe(false);
  });

  it('compares IP entries by value, whatever the spelling', () => {
    expect(list.allowsAddress('::ffff:127.0.0.1', 80)).toBe(true);
    expect(list.allowsAddress('0:0:0:0:0:0:0:1', 8080)).toBe(true);
    expect(list.allowsAddress('FD00:0::5', 443)).toBe(true);
    expect(list.allowsHost('[::1]', 8080)).toBe(true);
    expect(list.allowsAddress('127.0.0.2', 80)).toBe(false);
  });

  it('never lets a hostname entry exempt an address reached some other way', () => {
    expect(new HostAllowList(['localhost']).allowsAddress('127.0.0.1', 80)).toBe(false);
  });

  it.each([
    '',
    'http://docs.example',
    'docs.example/path',
    'user@docs.example',
    'docs.example:0',
    'docs.example:70000',
  ])('rejects the malformed entry %j', (entry) => {
    expect(() => new HostAllowList([entry])).toThrow(RangeError);
  });
});
