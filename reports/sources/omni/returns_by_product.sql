select * from returns_by_product
