select * from cohorts
