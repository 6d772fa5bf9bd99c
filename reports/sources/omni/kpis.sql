select * from kpis
