import { ErrorInfoSchema } from './errors';
describe('ErrorInfoSchema', () => {
  it('reads a stored error with a known code, and refuses one whose code is not in the catalogue', () => {
    expect(ErrorInfoSchema.parse({ code: 'corrupt_pdf', message: 'xref broken', retryable: false })).toEqual({
      code: 'corrupt_pdf',
      message: 'xref broken',
      retryable: false,
    });
    expect(ErrorInfoSchema.safeParse({ code: 'no_such_code', message: 'x' }).success).toBe(false);
    expect(ErrorInfoSchema.safeParse('boom').success).toBe(false);
  });
});
