/**
 * The one door to @peculiar/x509. Its dependency injection (tsyringe) needs the reflect-metadata polyfill
 * loaded first; importing the library only through this module guarantees the order.
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
