select * from ltv_cac
