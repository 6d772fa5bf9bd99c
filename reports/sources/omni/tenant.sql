select * from tenant
