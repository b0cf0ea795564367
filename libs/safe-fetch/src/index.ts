export { classifyAddress, type AddressVerdict } from './address-policy';
export {
  createSafeFetcher,
  type FetchedResource,
  type FetchToFileOptions,
  type PostedResponse,
  type PostOptions,
  type ResolvedAddress,
  type Resolver,
  type SafeFetcher,
  type SafeFetcherOptions,
} from './safe-fetch';
