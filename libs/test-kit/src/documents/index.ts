export * from './make-encrypted-pdf';
export * from './make-test-pdf';
export * from './raw-pdf';
export * from './make-office-documents';
export * from './make-scans';
