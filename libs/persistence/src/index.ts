export * from './domain';
export * from './persistence.module';
export * from './prisma';
export * from './repositories';
