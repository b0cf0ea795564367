export * from './domain';
export * from './migrations';
export * from './persistence.module';
export * from './prisma';
export * from './repositories';
