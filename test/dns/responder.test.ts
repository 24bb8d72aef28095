// The DNS codec and responder on queries laid out as `dig +noedns` sends them (RD set, one
// question): answers, NODATA, NXDOMAIN, REFUSED, FORMERR, and nothing for a response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeQuery, DNS_TYPE, DnsFormatError, encodeName, RCODE } from '../../src/dns/message';
import { answerQuery, reverseAddress, reverseZone, type NameDirectory } from '../../src/dns/responder';

const directory: NameDirectory = {
  zone: ['home', 'meshboi'],
  addressesOf: (host) => (host === 'bob' ? [Buffer.from([192, 168, 50, 2]), Buffer.from('fd000000000000000000000000000002', 'hex')] : null),
  hostOf: (address) => (address.equals(Buffer.from([192, 168, 50, 2])) ? 'bob' : null),
};

function query(name: string, type: number, id = 0x1234): Buffer {
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, encodeName(name), Buffer.from([type >> 8, type & 0xff, 0, 1])]);
}

test('an A query for a host gets one authoritative answer naming the question by pointer', () => {
  // The bytes of `dig +noedns @192.168.50.1 bob.home.meshboi A` with id 0x1234 (RFC 1035 4.1).
  const asked = Buffer.from('123401000001000000000000' + '03626f6204686f6d65076d657368626f6900' + '00010001', 'hex');
  assert.deepEqual(asked, query('bob.home.meshboi', DNS_TYPE.A));
  const reply = answerQuery(asked, directory, 10)!;
  assert.equal(
    reply.toString('hex'),
    '123485000001000100000000' + '03626f6204686f6d65076d657368626f6900' + '00010001' + 'c00c' + '0001' + '0001' + '0000000a' + '0004' + 'c0a83202',
  );
});

test('AAAA, PTR, NODATA, NXDOMAIN and REFUSED', () => {
  const rcode = (reply: Buffer | null) => reply![3] & 0x0f;
  const answers = (reply: Buffer | null) => reply!.readUInt16BE(6);
  const aaaa = answerQuery(query('BOB.home.meshboi', DNS_TYPE.AAAA), directory, 10)!;
  assert.equal(answers(aaaa), 1);
  assert.equal(aaaa.subarray(-16).toString('hex'), 'fd000000000000000000000000000002');
  assert.equal(answers(answerQuery(query('bob.home.meshboi', DNS_TYPE.ANY), directory, 10)), 2);
  const ptr = answerQuery(query('2.50.168.192.in-addr.arpa', DNS_TYPE.PTR), directory, 10)!;
  assert.equal(answers(ptr), 1);
  assert.ok(ptr.includes(encodeName('bob.home.meshboi')));
  assert.deepEqual([rcode(answerQuery(query('bob.home.meshboi', 16), directory, 10)), answers(answerQuery(query('bob.home.meshboi', 16), directory, 10))], [RCODE.noError, 0]);
  assert.equal(rcode(answerQuery(query('home.meshboi', DNS_TYPE.A), directory, 10)), RCODE.noError);
  assert.equal(rcode(answerQuery(query('eve.home.meshboi', DNS_TYPE.A), directory, 10)), RCODE.nxDomain);
  assert.equal(rcode(answerQuery(query('a.bob.home.meshboi', DNS_TYPE.A), directory, 10)), RCODE.nxDomain);
  assert.equal(rcode(answerQuery(query('3.50.168.192.in-addr.arpa', DNS_TYPE.PTR), directory, 10)), RCODE.nxDomain);
  assert.equal(rcode(answerQuery(query('bob.work.meshboi', DNS_TYPE.A), directory, 10)), RCODE.refused);
});

test('malformed queries get FORMERR when their header is readable, responses and scraps get nothing', () => {
  const formErr = answerQuery(Buffer.from('abcd0100000200000000000000', 'hex'), directory, 10)!;
  assert.equal(formErr.readUInt16BE(0), 0xabcd);
  assert.equal(formErr[3] & 0x0f, RCODE.formErr);
  assert.equal(answerQuery(Buffer.from('abcd', 'hex'), directory, 10), null);
  assert.equal(answerQuery(Buffer.from('abcd8100000100000000000000', 'hex'), directory, 10), null);
  const truncated = query('bob.home.meshboi', DNS_TYPE.A).subarray(0, 20);
  assert.throws(() => decodeQuery(truncated), DnsFormatError);
  const pointer = Buffer.concat([query('x', DNS_TYPE.A).subarray(0, 12), Buffer.from('c00c00010001', 'hex')]);
  assert.throws(() => decodeQuery(pointer), /compressed or over-long label/);
  const notImp = Buffer.from(query('bob.home.meshboi', DNS_TYPE.A));
  notImp[2] |= 0x10;
  assert.equal(answerQuery(notImp, directory, 10)![3] & 0x0f, RCODE.notImp);
});

test('reverse names map to addresses and prefixes to the reverse zones a resolver routes to us', () => {
  assert.deepEqual(reverseAddress(['4', '3', '2', '1', 'in-addr', 'arpa']), Buffer.from([1, 2, 3, 4]));
  assert.equal(reverseAddress(['3', '2', '1', 'in-addr', 'arpa']), null);
  assert.equal(reverseAddress(['256', '3', '2', '1', 'in-addr', 'arpa']), null);
  assert.equal(reverseAddress(['bob', 'home', 'meshboi']), undefined);
  assert.equal(reverseZone(Buffer.from([192, 168, 50, 1]), 24), '50.168.192.in-addr.arpa');
  assert.equal(reverseZone(Buffer.from('fd006d62000000000000000000000001', 'hex'), 64), '0.0.0.0.0.0.0.0.2.6.d.6.0.0.d.f.ip6.arpa');
});
