export * from './make-encrypted-pdf';
export * from './make-test-pdf';
export * from './raw-pdf';
